/*
 * send - the operations to Commerce, each recorded before it goes and after:
 *   bulk = yes: batch_rows operations in one POST to Commerce's asynchronous
 *     bulk API (Magento_WebapiAsync: a JSON array, the path parameter a field
 *     of each element), then GET /V1/bulk/{uuid}/detailed-status with backoff
 *     until no operation is open (Magento_AsynchronousOperations: 1 complete,
 *     2 failed but retriable, 3 failed, 4 open, 5 rejected); retriable ones go
 *     again, at most `retries` times; ones open past bulk_wait defer the file.
 *   bulk = no: the synchronous endpoints, `concurrency` at a time, each
 *     thread with its own kept-alive connection.
 * A request whose answer is lost is never simply sent again: its operations
 * are looked up on their orders first (orders.c: resolve_unknown).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commerce/client.h"
#include "lib/feed.h"
#include "lib/target.h"
#include "orders/opstate.h"
#include "queue/operations.h"
#include "util/crashpoint.h"
#include "util/log.h"
#include "util/xalloc.h"

#define ANSWERED_FALSE "Commerce answered false: the order's state does not allow it"

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;

int orders_stopping(const struct opctx *x)
{
	const struct submit_hooks *h = x->s->hooks;

	return h && h->stop && h->stop(h->ctx);
}

static const char *fate_state(enum op_fate f)
{
	static const char *const names[] = {
	    [FATE_NEW] = "new",		[FATE_UNKNOWN] = "sent",     [FATE_OPEN] = "open",
	    [FATE_RETRY] = "retry",	[FATE_DONE] = "done",	     [FATE_SKIPPED] = "skipped",
	    [FATE_REFUSED] = "refused", [FATE_REJECTED] = "rejected"};
	return names[f];
}

void ops_record(struct opctx *x, struct op **v, size_t n)
{
	struct ledger_op *rows;
	char **texts;

	if (x->ledger == NULL || n == 0)
		return;
	rows = xcalloc(n, sizeof(*rows));
	texts = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		char *rej = v[i]->rejected ? json_dumps(v[i]->rejected, JSON_COMPACT) : NULL;
		texts[i] = xasprintf("{\"expect\":%s,\"rejected\":%s}",
				     v[i]->expect ? v[i]->expect : "null", rej ? rej : "null");
		free(rej);
		rows[i].no = v[i]->no;
		snprintf(rows[i].state, sizeof(rows[i].state), "%s", fate_state(v[i]->fate));
		snprintf(rows[i].uuid, sizeof(rows[i].uuid), "%s", v[i]->uuid);
		rows[i].bulk_op = v[i]->bulk_op;
		rows[i].tries = v[i]->tries;
		rows[i].before = texts[i];
		rows[i].result = v[i]->result;
		v[i]->recorded = 1;
	}
	pthread_mutex_lock(&record_lock);
	ledger_ops_put(x->ledger, x->file_id, x->t->name, rows, n);
	pthread_mutex_unlock(&record_lock);
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(rows);
}

static void set_result(struct op *o, enum op_fate fate, const char *result)
{
	o->fate = fate;
	free(o->result);
	o->result = result ? xstrdup(result) : NULL;
}

static void sleep_ms(const struct opctx *x, unsigned long ms)
{
	while (ms > 0 && !orders_stopping(x)) {
		unsigned long step = ms < 100 ? ms : 100;
		struct timespec ts = {0, (long)step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static int sendable(const struct op *o, unsigned long retries)
{
	return o->text && (o->fate == FATE_NEW || o->fate == FATE_RETRY) && o->tries <= retries;
}

/* --- bulk ------------------------------------------------------------------ */

/* post_bulk: v (n ops of one route) in one request; their fates from the answer */
static void post_bulk(struct opctx *x, struct op **v, size_t n, const char *route,
		      const char *method)
{
	json_t *ans = NULL, *items;
	const char *param = op_path_param(x);
	struct answer a;
	struct buf resp = BUF_INIT(BUF_NOCAP), body = BUF_INIT(BUF_NOCAP);
	const char *uuid;
	int unknown = 0;

	/* a JSON array of the bodies, each with its path parameter as a field */
	buf_addch(&body, '[');
	for (size_t i = 0; i < n; i++) {
		const char *t = v[i]->text;
		buf_addstr(&body, i ? ",{" : "{");
		if (v[i]->id)
			buf_printf(&body, "\"%s\":%lld%s", param, v[i]->id, t[1] == '}' ? "" : ",");
		buf_addstr(&body, t + 1);
		v[i]->fate = FATE_UNKNOWN; /* from here on, until Commerce says */
		v[i]->tries++;
		v[i]->uuid[0] = '\0';
	}
	buf_addch(&body, ']');
	ops_record(x, v, n);
	crash_point("ops-before-post");
	answer_init(&a);
	x->posts++;
	commerce_call(x->client, method, route, body.data, body.len, &a, &resp, &unknown);
	buf_release(&body);
	crash_point("ops-after-post");
	if (unknown) {
		log_simple(
		    LOG_WARN, "bulk_answer_lost",
		    "%s: %zu operations of unknown fate: looked up before they go again (%s)",
		    x->s->parcel->path, n, buf_cstr(&a.message));
		goto out;
	}
	if (a.cls != ANSWER_DONE) {
		/* refused whole, or never reached Commerce: nothing of it was queued */
		for (size_t i = 0; i < n; i++) {
			v[i]->fate = FATE_NEW;
			v[i]->tries--;
		}
		ops_record(x, v, n);
		buf_reset(&x->why);
		buf_printf(&x->why, "Commerce refused a bulk request: %s", buf_cstr(&a.message));
		x->failed = 1;
		x->s->transient = a.cls == ANSWER_TRANSIENT;
		goto out;
	}
	ans = json_loads(buf_cstr(&resp), 0, NULL);
	uuid = json_string_value(json_object_get(ans, "bulk_uuid"));
	items = json_object_get(ans, "request_items");
	if (uuid == NULL || !json_is_array(items)) {
		log_simple(LOG_WARN, "bulk_answer_unreadable", "%s: no bulk_uuid in the answer",
			   x->s->parcel->path);
		goto out; /* unknown: looked up */
	}
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		size_t id = (size_t)json_integer_value(json_object_get(it, "id"));
		const char *st = json_string_value(json_object_get(it, "status"));
		if (id >= n)
			continue;
		snprintf(v[id]->uuid, sizeof(v[id]->uuid), "%s", uuid);
		v[id]->bulk_op = (unsigned)id;
		if (st && strcmp(st, "rejected") == 0)
			set_result(v[id], FATE_REFUSED,
				   json_string_value(json_object_get(it, "error_message")));
		else
			v[id]->fate = FATE_OPEN;
	}
	ops_record(x, v, n);
	crash_point("ops-open");
out:
	json_decref(ans);
	answer_release(&a);
	buf_release(&resp);
}

/* poll_once: each bulk with open operations asked once; how many are still open */
static size_t poll_once(struct opctx *x)
{
	size_t open = 0;
	struct op **changed = xcalloc(x->nops + 1, sizeof(*changed));
	size_t nchanged = 0;

	for (size_t i = 0; i < x->nops && !x->failed; i++) {
		struct op *o = &x->ops[i];
		char *route;
		json_t *ans, *list;
		int seen = 0;

		if (o->fate != FATE_OPEN)
			continue;
		for (size_t j = 0; j < i && !seen; j++) /* one call a bulk */
			seen = x->ops[j].fate == FATE_OPEN && strcmp(x->ops[j].uuid, o->uuid) == 0;
		if (seen)
			continue;
		route = xasprintf("bulk/%s/detailed-status", o->uuid);
		x->polls++;
		x->searches--; /* ops_get counts searches */
		ans = ops_get(x, route);
		free(route);
		list = json_object_get(ans, "operations_list");
		for (size_t k = 0; k < json_array_size(list); k++) {
			json_t *e = json_array_get(list, k);
			unsigned id = (unsigned)json_integer_value(json_object_get(e, "id"));
			long st = (long)json_integer_value(json_object_get(e, "status"));
			const char *msg = json_string_value(json_object_get(e, "result_message"));
			for (size_t m = i; m < x->nops; m++) {
				struct op *p = &x->ops[m];
				if (p->fate != FATE_OPEN || p->bulk_op != id ||
				    strcmp(p->uuid, o->uuid) != 0)
					continue;
				const char *res =
				    json_string_value(json_object_get(e, "result_serialized_data"));
				if (st == 1 && res && strcmp(res, "false") == 0)
					/* OrderService::cancel/hold/unhold ran and answered false
					 */
					set_result(p, FATE_REFUSED, ANSWERED_FALSE);
				else if (st == 1)
					set_result(p, FATE_DONE, msg);
				else if (st == 2)
					set_result(p, FATE_RETRY, msg);
				else if (st == 3 || st == 5)
					set_result(p, FATE_REFUSED, msg);
				if (p->fate != FATE_OPEN)
					changed[nchanged++] = p;
				break;
			}
		}
		json_decref(ans);
	}
	ops_record(x, changed, nchanged);
	free(changed);
	for (size_t i = 0; i < x->nops; i++)
		open += x->ops[i].fate == FATE_OPEN;
	return open;
}

/* ops_poll: until no operation is open, or bulk_wait has passed (then the file waits) */
void ops_poll(struct opctx *x)
{
	time_t until = time(NULL) + (time_t)x->t->bulk_wait;
	unsigned long wait = x->t->backoff_ms < 250 ? 250 : x->t->backoff_ms;
	size_t open = 1;

	while (!x->failed && !orders_stopping(x)) {
		size_t n = 0;
		for (size_t i = 0; i < x->nops; i++)
			n += x->ops[i].fate == FATE_OPEN;
		if (n == 0)
			return;
		if (time(NULL) >= until) {
			buf_reset(&x->why);
			buf_printf(
			    &x->why,
			    "%zu operations still open in Commerce after bulk_wait (%lus): is "
			    "Commerce's async.operations.all consumer running? (bin/magento "
			    "queue:consumers:start async.operations.all)",
			    n, x->t->bulk_wait);
			x->failed = 1;
			x->s->transient = 1;
			return;
		}
		sleep_ms(x, wait);
		open = poll_once(x);
		if (open && wait < 30000)
			wait = wait * 2 > 30000 ? 30000 : wait * 2;
	}
	(void)open;
}

void ops_send_bulk(struct opctx *x)
{
	size_t max = x->t->batch_rows ? x->t->batch_rows : 5000;
	struct op **v = xcalloc(max, sizeof(*v));

	for (int pass = 0; pass < 2; pass++) { /* company: creates, then updates */
		for (size_t i = 0; i < x->nops && !x->failed && !orders_stopping(x);) {
			const char *method;
			char *route = NULL;
			size_t n = 0;
			for (; i < x->nops && n < max; i++) {
				struct op *o = &x->ops[i];
				if (!sendable(o, x->t->retries) ||
				    (pass == 1) != (o->id != 0 && x->op->kind == OP_COMPANY))
					continue;
				v[n++] = o;
			}
			if (n == 0)
				break;
			route = op_route(x, v[0], 1, &method);
			post_bulk(x, v, n, route, method);
			free(route);
		}
		if (x->op->kind != OP_COMPANY)
			break;
	}
	free(v);
	if (!orders_stopping(x))
		ops_poll(x);
}

/* --- synchronous --------------------------------------------------------- */

struct direct {
	struct opctx *x;
	pthread_mutex_t lock;
	size_t next;
};

static void direct_one(struct opctx *x, struct commerce_client *c, struct op *o)
{
	const char *method;
	char *route = op_route(x, o, 0, &method);
	const char *body = o->text;
	struct answer a;
	struct buf resp = BUF_INIT(BUF_NOCAP);
	int unknown = 0;
	struct op *one[1] = {o};

	o->fate = FATE_UNKNOWN;
	o->tries++;
	ops_record(x, one, 1);
	answer_init(&a);
	__atomic_add_fetch(&x->posts, 1, __ATOMIC_RELAXED);
	commerce_call(c, method, route, body, strlen(body), &a, &resp, &unknown);
	crash_point("ops-after-call");
	if (unknown) {
		o->fate = FATE_UNKNOWN; /* looked up before it goes again */
	} else if (a.cls == ANSWER_DONE) {
		const char *r = buf_cstr(&resp);
		if (strcmp(r, "false") == 0)
			set_result(o, FATE_REFUSED, ANSWERED_FALSE);
		else
			set_result(o, FATE_DONE, r);
	} else if (a.cls == ANSWER_TRANSIENT || a.cls == ANSWER_AUTH || a.http_status == 404 ||
		   a.http_status == 0) {
		o->fate = FATE_NEW; /* never reached Commerce, or not this operation's fault */
		o->tries--;
		pthread_mutex_lock(&record_lock);
		buf_reset(&x->why);
		buf_printf(&x->why, "%s", buf_cstr(&a.message));
		x->failed = 1;
		x->s->transient = a.cls == ANSWER_TRANSIENT;
		pthread_mutex_unlock(&record_lock);
	} else {
		set_result(o, FATE_REFUSED, buf_cstr(&a.message));
	}
	ops_record(x, one, 1);
	answer_release(&a);
	buf_release(&resp);
	free(route);
}

static void *direct_worker(void *arg)
{
	struct direct *d = arg;
	struct opctx *x = d->x;
	struct buf err = BUF_INIT(4096);
	struct commerce_client *c = commerce_client_new(x->t, &err);

	if (c == NULL) {
		pthread_mutex_lock(&record_lock);
		buf_reset(&x->why);
		buf_addstr(&x->why, buf_cstr(&err));
		x->failed = 1;
		pthread_mutex_unlock(&record_lock);
	}
	if (c && x->s->hooks && x->s->hooks->stop)
		commerce_client_set_stop(c, x->s->hooks->stop, x->s->hooks->ctx);
	while (c && !x->failed && !orders_stopping(x)) {
		struct op *o = NULL;
		pthread_mutex_lock(&d->lock);
		while (d->next < x->nops && !sendable(&x->ops[d->next], x->t->retries))
			d->next++;
		if (d->next < x->nops)
			o = &x->ops[d->next++];
		pthread_mutex_unlock(&d->lock);
		if (o == NULL)
			break;
		direct_one(x, c, o);
	}
	commerce_client_free(c);
	buf_release(&err);
	return NULL;
}

void ops_send_direct(struct opctx *x)
{
	size_t n = x->t->concurrency ? x->t->concurrency : 1;
	pthread_t *th = xcalloc(n, sizeof(*th));
	struct direct d = {x, PTHREAD_MUTEX_INITIALIZER, 0};

	for (size_t i = 0; i < n; i++)
		pthread_create(&th[i], NULL, direct_worker, &d);
	for (size_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&d.lock);
	free(th);
}
