#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commerce/client.h"
#include "ops/counters.h"
#include "lib/conf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MAX_ANSWER (16 * 1024 * 1024)
#define SECRET_MAX 4096

struct commerce_client {
	const struct target *t;
	CURL *h;
	char *import_url;
	char *token_url;
	struct buf token;  /* secret */
	int admin;         /* the token is an admin token, renewable */
	struct buf body;   /* the answer being received */
	long retry_after;  /* from the last answer's header, seconds; -1 none */
	unsigned long long wire;
	char errbuf[CURL_ERROR_SIZE];
	int (*stop)(void *ctx);
	void *stop_ctx;
	const char *method; /* NULL: POST with a body, GET without */
	int once;	    /* commerce_call: a request never to be sent twice */
};

static int (*default_stop)(void *ctx);
static void *default_stop_ctx;

void commerce_set_default_stop(int (*stop)(void *ctx), void *ctx)
{
	default_stop = stop;
	default_stop_ctx = ctx;
}

void commerce_client_set_stop(struct commerce_client *c, int (*stop)(void *ctx), void *ctx)
{
	c->stop = stop;
	c->stop_ctx = ctx;
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct commerce_client *c = ctx;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return c->stop && c->stop(c->stop_ctx); /* non-zero aborts the transfer */
}

void commerce_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* read_secret: the first line of path, trimmed; the message never holds it. */
static int read_secret(const char *path, struct buf *out, struct buf *err)
{
	FILE *fp = fopen(path, "re");
	char line[SECRET_MAX];
	size_t n;

	if (fp == NULL) {
		buf_printf(err, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strcspn(line, "\r\n");
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	buf_reset(out);
	buf_add(out, line, n);
	memset(line, 0, sizeof(line));
	if (n == 0) {
		buf_printf(err, "%s is empty", path);
		return -1;
	}
	return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct commerce_client *c = ctx;

	if (buf_add(&c->body, p, size * n) < 0)
		return 0; /* an answer over MAX_ANSWER: abort the transfer */
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct commerce_client *c = ctx;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char *end;
		long v = strtol(p + 12, &end, 10);
		if (end != p + 12 && v >= 0)
			c->retry_after = v;
	}
	return len;
}

static void set_common(struct commerce_client *c)
{
	const struct target *t = c->t;
	long connect = t->timeout < 30 ? (long)t->timeout : 30;

	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, connect);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, (long)t->timeout);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, (long)t->timeout);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, t->verify_tls ? 1L : 0L);
	curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, t->verify_tls ? 2L : 0L);
	if (t->ca_file)
		curl_easy_setopt(c->h, CURLOPT_CAINFO, t->ca_file);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "dropgate/" PACKAGE_VERSION);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
	if (c->stop) {
		curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, c);
	}
}

/*
 * post: one HTTP POST of a JSON body (a GET when body is NULL); *status 0 when
 * no HTTP answer came.
 * The transport error, if any, is described in err without URL secrets.
 */
static CURLcode post(struct commerce_client *c, const char *url, const char *body, size_t len,
		     int with_token, long *status, struct buf *err)
{
	struct curl_slist *hdr = NULL;
	struct buf auth = BUF_INIT(SECRET_MAX + 64);
	CURLcode rc;

	set_common(c);
	buf_reset(&c->body);
	c->retry_after = -1;
	c->errbuf[0] = '\0';
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	if (with_token) {
		buf_printf(&auth, "Authorization: Bearer %s", buf_cstr(&c->token));
		hdr = curl_slist_append(hdr, auth.data);
		memset(auth.data, 0, auth.len);
	}
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	if (body) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	}
	if (c->method && with_token) /* never the token request's */
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, c->method);
	/* a request that must not be made twice gets a connection of its own: libcurl sends a
	   request again by itself when a reused connection dies before any answer, and a
	   Commerce that died after creating a shipment would then create it twice */
	if (c->once && with_token)
		curl_easy_setopt(c->h, CURLOPT_FRESH_CONNECT, 1L);
	rc = curl_easy_perform(c->h);
	c->wire += len;
	*status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, status);
	else
		buf_printf(err, "%s%s%s", curl_easy_strerror(rc), c->errbuf[0] ? ": " : "",
			   c->errbuf);
	curl_slist_free_all(hdr);
	buf_release(&auth);
	return rc;
}

/* fetch_admin_token: ask Commerce for an admin token; 0 or -1 with err. */
static int fetch_admin_token(struct commerce_client *c, struct buf *err)
{
	struct buf password = BUF_INIT(SECRET_MAX);
	json_t *req, *ans = NULL;
	char *body;
	long status;
	int rc = -1;

	if (read_secret(c->t->password_file, &password, err) < 0)
		goto out;
	req = json_object();
	json_object_set_new(req, "username", json_string(c->t->username));
	json_object_set_new(req, "password", json_string(buf_cstr(&password)));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (post(c, c->token_url, body, strlen(body), 0, &status, err) != CURLE_OK) {
		memset(body, 0, strlen(body));
		free(body);
		goto out;
	}
	memset(body, 0, strlen(body));
	free(body);
	ans = json_loadb(c->body.data ? c->body.data : "", c->body.len, JSON_DECODE_ANY, NULL);
	if (status != 200 || !json_is_string(ans)) {
		buf_printf(err, "Commerce refused the admin login of user '%s' (HTTP %ld)",
			   c->t->username, status);
		goto out;
	}
	buf_reset(&c->token);
	buf_addstr(&c->token, json_string_value(ans));
	rc = 0;
out:
	json_decref(ans);
	if (password.data)
		memset(password.data, 0, password.len);
	buf_release(&password);
	return rc;
}

struct commerce_client *commerce_client_new(const struct target *t, struct buf *err)
{
	struct commerce_client *c = xcalloc(1, sizeof(*c));
	const char *api = t->api == API_JSON ? "json" : "csv";
	size_t n = strlen(t->url);

	while (n && t->url[n - 1] == '/')
		n--;
	c->t = t;
	c->stop = default_stop;
	c->stop_ctx = default_stop_ctx;
	c->import_url = xasprintf("%.*s/rest/%s/V1/import/%s", (int)n, t->url, t->store, api);
	c->token_url = xasprintf("%.*s/rest/V1/integration/admin/token", (int)n, t->url);
	buf_init(&c->token, SECRET_MAX);
	buf_init(&c->body, MAX_ANSWER);
	c->h = curl_easy_init();
	if (c->h == NULL) {
		buf_addstr(err, "libcurl could not start");
		commerce_client_free(c);
		return NULL;
	}
	if (t->token_file) {
		if (read_secret(t->token_file, &c->token, err) < 0) {
			commerce_client_free(c);
			return NULL;
		}
	} else {
		c->admin = 1;
		if (fetch_admin_token(c, err) < 0) {
			commerce_client_free(c);
			return NULL;
		}
	}
	return c;
}

void commerce_client_free(struct commerce_client *c)
{
	if (c == NULL)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	if (c->token.data)
		memset(c->token.data, 0, c->token.len);
	buf_release(&c->token);
	buf_release(&c->body);
	free(c->import_url);
	free(c->token_url);
	free(c);
}

unsigned long long commerce_wire_bytes(const struct commerce_client *c)
{
	return c->wire;
}

/* sleep_ms: wait, in steps of at most 100 ms so that a stop is heard. */
static void sleep_ms(struct commerce_client *c, unsigned long ms)
{
	while (ms > 0 && !(c->stop && c->stop(c->stop_ctx))) {
		unsigned long step = ms < 100 ? ms : 100;
		struct timespec ts = { 0, (long)step * 1000000L };

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		ms -= step;
	}
}

/* backoff: the wait before attempt n (1-based retry), with +-25 % jitter. */
static unsigned long backoff(const struct target *t, unsigned attempt, long retry_after)
{
	unsigned long ms = t->backoff_ms;

	if (retry_after >= 0) {
		ms = (unsigned long)retry_after * 1000;
		if (ms < t->backoff_ms)
			ms = t->backoff_ms;
	} else {
		for (unsigned i = 1; i < attempt && ms < t->backoff_max_ms; i++)
			ms *= 2;
		ms = ms - ms / 4 + (unsigned long)(random() % (long)(ms / 2 + 1));
	}
	return ms > t->backoff_max_ms ? t->backoff_max_ms : ms;
}

/* permanent: transport errors that a retry cannot mend (TLS trust, a bad URL). */
static int permanent(CURLcode rc)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return 1;
	default:
		return 0;
	}
}

/*
 * exchange: one request with the token, retried as the header says. A GET
 * (body NULL) answered 200 is done, its body in *response.
 */
/* answer.h's classes as the metrics name them (ops/counters.h) */
static const char *const class_names[] = {"done", "refused", "transient", "auth", "rows", "unnamed"};

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}
/*
 * exchange: ... With once, a request that may have reached Commerce (no answer
 * after the connection was made, a 5xx but 503) is not sent again: *unknown is set.
 * A 2xx is done then, its body in *response.
 */
static enum answer_class exchange_once(struct commerce_client *c, const char *url,
				       const char *body, size_t len, struct answer *a,
				       struct buf *response, int once, int *unknown);

static enum answer_class exchange(struct commerce_client *c, const char *url, const char *body,
				  size_t len, struct answer *a, struct buf *response)
{
	return exchange_once(c, url, body, len, a, response, 0, NULL);
}

/* maybe_applied: an outcome after which Commerce may have acted on the request */
static int maybe_applied(CURLcode rc, long status)
{
	if (rc != CURLE_OK)
		return rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST &&
		       rc != CURLE_SSL_CONNECT_ERROR && rc != CURLE_ABORTED_BY_CALLBACK;
	return status >= 500 && status != 503;
}

static enum answer_class exchange_once(struct commerce_client *c, const char *url,
				       const char *body, size_t len, struct answer *a,
				       struct buf *response, int once, int *unknown)
{
	struct buf err = BUF_INIT(4096);
	int renewed = 0;
	unsigned attempt = 0;

	for (;;) {
		long status;
		CURLcode rc;
		struct timespec t0;

		buf_reset(&err);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = post(c, url, body, len, 1, &status, &err);
		if (rc == CURLE_OK && response &&
		    (status == 200 || (once && status >= 200 && status < 300))) {
			answer_reset(a);
			a->http_status = 200;
			buf_reset(response);
			buf_add(response, c->body.data ? c->body.data : "", c->body.len);
		} else if (rc == CURLE_OK) {
			answer_parse(a, status, c->body.data, c->body.len);
			if (c->retry_after >= 0)
				a->retry_after = (unsigned long)c->retry_after;
		} else {
			answer_reset(a);
			a->cls = permanent(rc) ? ANSWER_REFUSED : ANSWER_TRANSIENT;
			buf_printf(&a->message, "no answer from Commerce: %s", buf_cstr(&err));
		}
		counters_request(c->t->name, class_names[a->cls], seconds_since(&t0));
		if (a->cls == ANSWER_AUTH && c->admin && !renewed) {
			/* admin tokens expire: ask for a new one, once */
			renewed = 1;
			buf_reset(&err);
			if (fetch_admin_token(c, &err) == 0) {
				log_simple(LOG_INFO, "commerce_token_renewed", "target %s", c->t->name);
				continue;
			}
			buf_reset(&a->message);
			buf_printf(&a->message, "the admin token expired and a new one was refused: %s",
				   buf_cstr(&err));
			break;
		}
		if (a->cls == ANSWER_AUTH) {
			char *m = buf_detach(&a->message);
			buf_printf(&a->message, "Commerce refused the %s (%s)",
				   c->admin ? "renewed admin token" : "integration token from token_file; "
								      "was it revoked?",
				   m);
			free(m);
			break;
		}
		if (once && a->cls == ANSWER_TRANSIENT && maybe_applied(rc, status)) {
			*unknown = 1; /* sent once: what came of it is looked up, not sent again */
			break;
		}
		if (a->cls != ANSWER_TRANSIENT || attempt >= c->t->retries ||
		    (c->stop && c->stop(c->stop_ctx)))
			break;
		attempt++;
		counters_retry(c->t->name);
		{
			unsigned long wait = backoff(c->t, attempt, c->retry_after);
			struct logline l;
			log_begin(&l, LOG_WARN, "commerce_retry");
			log_kv(&l, "target", c->t->name);
			log_kvf(&l, "attempt", "%u", attempt);
			log_kvf(&l, "of", "%lu", c->t->retries);
			log_kvf(&l, "wait_ms", "%lu", wait);
			log_kv(&l, "reason", buf_cstr(&a->message));
			log_end(&l);
			sleep_ms(c, wait);
		}
	}
	buf_release(&err);
	return a->cls;
}

enum answer_class commerce_import(struct commerce_client *c, const char *body, size_t len,
				  struct answer *a)
{
	return exchange(c, c->import_url, body, len, a, NULL);
}

enum answer_class commerce_get(struct commerce_client *c, const char *route, struct answer *a,
			       struct buf *response)
{
	size_t n = strlen(c->t->url);
	char *url;
	enum answer_class cls;

	while (n && c->t->url[n - 1] == '/')
		n--;
	url = xasprintf("%.*s/rest/%s/V1/%s", (int)n, c->t->url, c->t->store, route);
	cls = exchange(c, url, NULL, 0, a, response);
	free(url);
	return cls;
}

enum answer_class commerce_call(struct commerce_client *c, const char *method, const char *route,
				const char *body, size_t len, struct answer *a,
				struct buf *response, int *unknown)
{
	size_t n = strlen(c->t->url);
	char *url;
	enum answer_class cls;

	while (n && c->t->url[n - 1] == '/')
		n--;
	url = xasprintf("%.*s/rest/%s/%s", (int)n, c->t->url, c->t->store, route);
	*unknown = 0;
	c->method = method;
	c->once = 1;
	cls = exchange_once(c, url, body, body ? len : 0, a, response, 1, unknown);
	c->method = NULL;
	c->once = 0;
	free(url);
	return cls;
}
