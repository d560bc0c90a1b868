#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/conf.h"
#include "ops/counters.h"
#include "ops/expect.h"
#include "ops/metrics.h"
#include "ops/prom.h"
#include "queue/ledger.h"
#include "queue/ledger_rows.h"
#include "queue/notes.h"
#include "util/durable.h"
#include "util/xalloc.h"

#define TICK_LATE_MS 30000 /* a main loop silent this long is not healthy */
#define BODY_MAX (64 * 1024 * 1024)

struct metrics {
	struct MHD_Daemon *d;
	struct metrics_source *src;
};

static long long monotonic_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* a query's rows as samples: the last column the value, the others the labels named */
struct sample_rows {
	struct buf *out;
	const char *name;
	const char *const *labels;	     /* NULL-ended, one per column before the value */
	const char *fixed_key, *fixed_value; /* one more label, the same on every row (or NULL) */
};

static void sample_row(void *ctx, size_t n, const char *const *col)
{
	struct sample_rows *r = ctx;
	const char *k[4] = {0}, *v[4] = {0};
	int nl = 0;

	for (size_t i = 0; i + 1 < n && r->labels[i] && nl < 3; i++) {
		k[nl] = r->labels[i];
		v[nl++] = col[i];
	}
	if (r->fixed_key) {
		k[nl] = r->fixed_key;
		v[nl++] = r->fixed_value;
	}
	prom_sample(r->out, r->name, strtod(col[n - 1], NULL), nl, k[0], v[0], k[1], v[1], k[2],
		    v[2], k[3], v[3]);
}

static void query_samples(struct ledger *l, struct buf *out, const char *name,
			  const char *const *labels, const char *sql, const char *fixed_key,
			  const char *fixed_value)
{
	struct sample_rows r = {out, name, labels, fixed_key, fixed_value};

	ledger_rows(l, sql, sample_row, &r, "");
}

static const char *const pf_state[] = {"partner", "feed", "state", NULL};
static const char *const pf[] = {"partner", "feed", NULL};
static const char *const t_state[] = {"target", "state", NULL};
static const char *const by_state[] = {"state", NULL};

/* a file's rows that no target was sent (a sequence's: superseded or unchanged), 0 else */
#define LEFT_OUT                                                                          \
	"coalesce((SELECT min(t.unchanged + t.superseded) FROM file_targets t WHERE t.file_id " \
	"= files.id), 0)"
/* a full snapshot's absent keys, sent with the absent.* values (the most any target got) */
#define ABSENT "coalesce((SELECT max(t.absent) FROM file_targets t WHERE t.file_id = files.id), 0)"
#define FINAL "('done','partial','failed','duplicate','stale','refused')"
#define WAITING "('received','processing','submitting','deferred')"

static void render_ledger(struct ledger *l, struct buf *out)
{
	prom_family(out, "dropgate_files_total", "counter",
		    "files that reached a final state, by partner, feed and state");
	query_samples(l, out, "dropgate_files_total", pf_state,
		      "SELECT partner, feed, state, count(*) FROM files WHERE state IN " FINAL
		      " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
		      NULL, NULL);
	prom_family(out, "dropgate_rows_total", "counter",
		    "rows of imported files by partner, feed and outcome: sent (accepted and "
		    "sent to Commerce; a full snapshot's absent keys too), rejected, unchanged (a "
		    "sequence's rows no target was sent: superseded or unchanged)");
	/* a sequence's file (sift/): the rows no target was sent, superseded or unchanged,
	   are "unchanged"; the others "sent" */
	query_samples(l, out, "dropgate_rows_total", pf,
		      "SELECT partner, feed, coalesce(sum(CASE WHEN state IN ('done','partial') "
		      "THEN rows_ok - " LEFT_OUT " + " ABSENT " END), 0) FROM files GROUP BY 1, 2 "
		      "ORDER BY 1, 2",
		      "outcome", "sent");
	query_samples(l, out, "dropgate_rows_total", pf,
		      "SELECT partner, feed, coalesce(sum(CASE WHEN state IN "
		      "('done','partial','failed') THEN rows_rejected END), 0) FROM files GROUP BY "
		      "1, 2 ORDER BY 1, 2",
		      "outcome", "rejected");
	query_samples(l, out, "dropgate_rows_total", pf,
		      "SELECT partner, feed, coalesce(sum(CASE WHEN state IN ('done','partial') "
		      "THEN " LEFT_OUT " END), 0) FROM files GROUP BY 1, 2 ORDER BY 1, 2",
		      "outcome", "unchanged");
	prom_family(out, "dropgate_batches_total", "counter",
		    "batches by target and state (pending, sent, done, refused)");
	query_samples(l, out, "dropgate_batches_total", t_state,
		      "SELECT target, state, count(*) FROM batches GROUP BY 1, 2 ORDER BY 1, 2",
		      NULL, NULL);
	prom_family(out, "dropgate_queue_files", "gauge",
		    "files waiting or in flight, by state (received, processing, submitting, "
		    "deferred)");
	query_samples(l, out, "dropgate_queue_files", by_state,
		      "SELECT s.state, (SELECT count(*) FROM files f WHERE f.state = s.state) FROM "
		      "(SELECT 'received' AS state UNION ALL SELECT 'processing' UNION ALL SELECT "
		      "'submitting' UNION ALL SELECT 'deferred') s",
		      NULL, NULL);
	prom_family(
	    out, "dropgate_deferred_files", "gauge",
	    "files deferred (Commerce unreachable, a disk fault), waiting for their next try");
	query_samples(l, out, "dropgate_deferred_files", by_state,
		      "SELECT count(*) FROM files WHERE state = 'deferred'", NULL, NULL);
	prom_family(out, "dropgate_queue_oldest_age_seconds", "gauge",
		    "age of the oldest file waiting or in flight (0: none)");
	query_samples(l, out, "dropgate_queue_oldest_age_seconds", by_state,
		      "SELECT coalesce(strftime('%s','now') - min(received), 0) FROM files WHERE "
		      "state IN " WAITING,
		      NULL, NULL);
	prom_family(out, "dropgate_last_success_timestamp_seconds", "gauge",
		    "when a file of the partner and feed was last imported (done or partial)");
	query_samples(l, out, "dropgate_last_success_timestamp_seconds", pf,
		      "SELECT partner, feed, max(finished) FROM files WHERE state IN "
		      "('done','partial') GROUP BY 1, 2 ORDER BY 1, 2",
		      NULL, NULL);
}

struct late_rows {
	struct ledger *l;
	struct buf *out;
	time_t now;
	int seconds; /* 0: the 0/1 gauge, 1: seconds late */
};

static void late_pair(void *ctx, const char *partner, const struct feed *f)
{
	struct late_rows *r = ctx;
	struct note_key key = {""};
	char v[32] = "";
	time_t since;

	ledger_note_get(r->l, note_late(&key, partner, f->name), v, sizeof(v));
	since = (time_t)strtoll(v, NULL, 10);
	if (r->seconds)
		prom_sample(r->out, "dropgate_feed_late_seconds",
			    v[0] && r->now > since ? (double)(r->now - since) : 0, 2, "partner",
			    partner, "feed", f->name);
	else
		prom_sample(r->out, "dropgate_feed_late", v[0] ? 1 : 0, 2, "partner", partner,
			    "feed", f->name);
}

static void render_late(struct ledger *l, const struct conf *c, struct buf *out)
{
	struct late_rows r = {l, out, time(NULL), 0};

	prom_family(out, "dropgate_feed_late", "gauge",
		    "1 while an expected feed (expect =) of a partner is late, else 0");
	expect_each_pair(c, late_pair, &r);
	prom_family(out, "dropgate_feed_late_seconds", "gauge",
		    "seconds an expected feed of a partner has been late (0: on time)");
	r.seconds = 1;
	expect_each_pair(c, late_pair, &r);
}

static long long file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void render_disk(const struct conf *c, struct buf *out)
{
	const char *paths[] = {c->spool, c->state}, *names[] = {"spool", "state"};
	char *db = ledger_location(c->ledger, c->state), *wal = xasprintf("%s-wal", db);

	if (ledger_is_file(db)) { /* a PostgreSQL ledger's size is its server's to tell */
		prom_family(out, "dropgate_ledger_bytes", "gauge", "size of ledger.db and its WAL");
		prom_sample(out, "dropgate_ledger_bytes", (double)(file_bytes(db) + file_bytes(wal)),
			    0);
	}
	prom_family(out, "dropgate_disk_free_bytes", "gauge",
		    "bytes free to the daemon on the spool's and the state's filesystems");
	for (int i = 0; i < 2; i++) {
		struct statvfs sv;
		if (statvfs(paths[i], &sv) == 0)
			prom_sample(out, "dropgate_disk_free_bytes",
				    (double)sv.f_bavail * (double)sv.f_frsize, 2, "volume",
				    names[i], "path", paths[i]);
	}
	free(db);
	free(wal);
}

void metrics_render(struct metrics_source *src, struct buf *out)
{
	const struct conf *c = src->conf;

	prom_family(out, "dropgate_build_info", "gauge", "the running version");
	prom_sample(out, "dropgate_build_info", 1, 1, "version", PACKAGE_VERSION);
	prom_family(out, "dropgate_workers", "gauge", "worker threads processing files");
	prom_sample(out, "dropgate_workers", (double)src->workers, 0);
	render_ledger(src->ledger, out);
	render_late(src->ledger, c, out);
	render_disk(c, out);
	counters_render(out);
}

static void one_row(void *ctx, size_t n, const char *const *col)
{
	(void)n;
	(void)col;
	*(int *)ctx = 1;
}

int metrics_health(struct metrics_source *src, struct buf *why)
{
	const struct conf *c = src->conf;
	long long silent = monotonic_ms() - src->main_tick_ms;
	char *db = ledger_location(c->ledger, c->state);
	int answered = 0;

	if (src->stopping)
		buf_printf(why, "the daemon is stopping\n");
	if (silent > TICK_LATE_MS)
		buf_printf(why, "the main loop has not ticked for %lld s\n", silent / 1000);
	if (ledger_failed(src->ledger) || durable_failed())
		buf_printf(why, "a ledger write or an fsync failed: the daemon stops\n");
	if (ledger_rows(src->ledger, "SELECT 1", one_row, &answered, "") < 0 || !answered)
		buf_printf(why, "the ledger does not answer a query\n");
	if (ledger_is_file(db) && access(db, W_OK) < 0)
		buf_printf(why, "the ledger %s cannot be written: %s\n", db, strerror(errno));
	if (access(c->state, W_OK) < 0)
		buf_printf(why, "the state directory %s cannot be written: %s\n", c->state,
			   strerror(errno));
	free(db);
	return why->len ? -1 : 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, struct buf *body,
			     const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	size_t len = body->len;
	char *data = buf_detach(body);

	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", type);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	struct metrics *m = cls;
	struct buf body = BUF_INIT(BODY_MAX);

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		buf_addstr(&body, "only GET\n");
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, &body, "text/plain");
	}
	if (strcmp(url, "/metrics") == 0) {
		metrics_render(m->src, &body);
		return reply(conn, MHD_HTTP_OK, &body, "text/plain; version=0.0.4; charset=utf-8");
	}
	if (strcmp(url, "/healthz") == 0) {
		struct buf why = BUF_INIT(4096);
		int ok = metrics_health(m->src, &why) == 0;
		buf_addstr(&body, ok ? "ok\n" : buf_cstr(&why));
		buf_release(&why);
		return reply(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, &body,
			     "text/plain; charset=utf-8");
	}
	buf_addstr(&body, "not found: /metrics and /healthz are here\n");
	return reply(conn, MHD_HTTP_NOT_FOUND, &body, "text/plain");
}

/* resolve: "HOST:PORT" or "[V6]:PORT" to a socket address; 0 or -1 with err */
static int resolve(const char *addr, struct sockaddr_storage *sa, struct buf *err)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {0}, *res = NULL;
	size_t hl = (size_t)(colon - addr);
	int rc;

	if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		buf_printf(err, "metrics: address '%s' is too long", addr);
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		buf_printf(err, "metrics: cannot resolve '%s': %s", host, gai_strerror(rc));
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

struct metrics *metrics_start(const char *addr, struct metrics_source *src, struct buf *err)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	struct sockaddr_storage sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;

	if (resolve(addr, &sa, err) < 0) {
		free(m);
		return NULL;
	}
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->src = src;
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_CONNECTION_LIMIT, 16U, MHD_OPTION_CONNECTION_TIMEOUT,
				10U, MHD_OPTION_END);
	if (m->d == NULL) {
		buf_printf(err, "metrics: cannot listen on %s: %s", addr,
			   errno ? strerror(errno) : "libmicrohttpd refused");
		free(m);
		return NULL;
	}
	return m;
}

void metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
