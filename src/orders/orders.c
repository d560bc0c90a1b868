/*
 * orders - an operation feed's file to one target (orders.h): rows grouped
 * into operations, what the ledger recorded of them taken up again, orders
 * looked up, rows checked, the operations sent (send.c), the outcomes told.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "lib/feed.h"
#include "lib/target.h"
#include "orders/opstate.h"
#include "orders/orders.h"
#include "queue/operations.h"
#include "util/log.h"
#include "util/xalloc.h"

static enum op_fate fate_of(const char *state)
{
	static const struct {
		const char *name;
		enum op_fate fate;
	} t[] = {{"sent", FATE_UNKNOWN},     {"open", FATE_OPEN},	{"retry", FATE_RETRY},
		 {"done", FATE_DONE},	     {"skipped", FATE_SKIPPED}, {"refused", FATE_REFUSED},
		 {"rejected", FATE_REJECTED}};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].name, state) == 0)
			return t[i].fate;
	return FATE_NEW;
}

static void take_recorded(void *ctx, const struct ledger_op *r)
{
	struct opctx *x = ctx;
	struct op *o;
	json_t *rec;

	if (r->no >= x->nops)
		return; /* not this file's parse: cannot happen for the same bytes */
	o = &x->ops[r->no];
	o->fate = fate_of(r->state);
	snprintf(o->uuid, sizeof(o->uuid), "%s", r->uuid);
	o->bulk_op = r->bulk_op;
	o->tries = r->tries;
	o->result = r->result && *r->result ? xstrdup(r->result) : NULL;
	o->recorded = 1;
	rec = json_loads(r->before ? r->before : "", 0, NULL);
	if (json_object_get(rec, "expect"))
		o->expect = json_dumps(json_object_get(rec, "expect"), JSON_COMPACT);
	o->rejected = json_incref(json_object_get(rec, "rejected"));
	json_decref(rec);
}

/*
 * queued: the path parameters (order or company ids) of the operations open in
 * Commerce's queue (GET /V1/bulk, Magento_AsynchronousOperations'
 * OperationRepositoryInterface::getList, status 4), into ids. 1 when Commerce
 * answered, 0 when it has no such search (404: then only time tells), -1 when
 * it failed.
 */
static int queued(struct opctx *x, json_t *ids)
{
	const char *param = op_path_param(x);

	for (unsigned page = 1; page <= 20; page++) {
		struct answer a;
		struct buf resp = BUF_INIT(BUF_NOCAP);
		char route[256];
		json_t *ans, *items;
		size_t n;

		snprintf(route, sizeof(route),
			 "bulk?searchCriteria[filter_groups][0][filters][0][field]=status"
			 "&searchCriteria[filter_groups][0][filters][0][value]=4"
			 "&searchCriteria[filter_groups][0][filters][0][condition_type]=eq"
			 "&searchCriteria[pageSize]=1000&searchCriteria[currentPage]=%u",
			 page);
		answer_init(&a);
		x->searches++;
		commerce_get(x->client, route, &a, &resp);
		if (a.cls != ANSWER_DONE) {
			int rc = a.http_status == 404 ? 0 : -1;
			answer_release(&a);
			buf_release(&resp);
			return rc;
		}
		answer_release(&a);
		ans = json_loads(buf_cstr(&resp), 0, NULL);
		buf_release(&resp);
		items = json_object_get(ans, "items");
		n = json_array_size(items);
		for (size_t i = 0; i < n; i++) {
			/* serialized_data: {"meta_information": "<the element's JSON>", ...} */
			json_t *sd = json_loads(json_string_value(json_object_get(
						    json_array_get(items, i), "serialized_data"))
						    ?: "",
						0, NULL);
			json_t *el = json_loads(
			    json_string_value(json_object_get(sd, "meta_information")) ?: "", 0,
			    NULL);
			json_int_t id = json_integer_value(json_object_get(el, param));
			char key[32];
			if (id) {
				snprintf(key, sizeof(key), "%lld", (long long)id);
				json_object_set_new(ids, key, json_true());
			}
			json_decref(el);
			json_decref(sd);
		}
		json_decref(ans);
		if (n < 1000)
			break;
	}
	return 1;
}

static int in_queue(json_t *ids, const struct op *o)
{
	char key[32];

	snprintf(key, sizeof(key), "%lld", o->id);
	return o->id && json_object_get(ids, key) != NULL;
}

/* settle_absent: o, of unknown fate, not found as its own: done by another's document
   (present -1: reported, never sent again) or never arrived (checked again, goes again) */
static void settle_absent(struct opctx *x, struct op *o, int present)
{
	if (present < 0) {
		op_not_ours(x, o);
		return;
	}
	op_check(x, o);
	if (o->fate == FATE_UNKNOWN)
		o->fate = FATE_NEW;
}

/*
 * resolve_unknown: operations sent whose fate is unknown, looked up on their
 * orders: there, they are done; not there, they go again. With the bulk API
 * one not there may still sit in Commerce's queue: Commerce's open operations
 * are searched first (then the orders, so that one run in between is seen on
 * its order), and one of the same order still open is waited for (the file
 * waits while it is); where Commerce has no such search, its order is looked
 * up again (backoff) until bulk_wait has passed.
 */
static void resolve_unknown(struct opctx *x, int bulk)
{
	time_t until = time(NULL) + (time_t)x->t->bulk_wait;
	unsigned long wait = x->t->backoff_ms < 250 ? 250 : x->t->backoff_ms;

	for (;;) {
		struct op **changed = xcalloc(x->nops + 1, sizeof(*changed));
		json_t *ids = json_object();
		size_t n = 0, left = 0, waiting = 0;
		int q = 0;

		for (size_t i = 0; i < x->nops; i++)
			left += x->ops[i].fate == FATE_UNKNOWN;
		if (left && bulk)
			q = queued(x, ids);
		if (left == 0 || q < 0 || ops_lookup(x, 1) < 0) {
			if (q < 0) {
				buf_reset(&x->why);
				buf_addstr(&x->why,
					   "Commerce's queue of operations could not be searched");
				x->failed = 1;
				x->s->transient = 1;
			}
			json_decref(ids);
			free(changed);
			return;
		}
		for (size_t i = 0; i < x->nops; i++) {
			struct op *o = &x->ops[i];
			int p;
			if (o->fate != FATE_UNKNOWN)
				continue;
			p = op_present(x, o);
			if (p == 1) {
				o->fate = FATE_SKIPPED;
				free(o->result);
				o->result = xstrdup("found in Commerce after its answer was lost");
				changed[n++] = o;
			} else if (bulk && (q == 0 || in_queue(ids, o))) {
				waiting++; /* perhaps (q == 0) or surely still in the queue */
			} else {
				settle_absent(x, o, p);
				changed[n] = o;
				n += o->fate == FATE_REJECTED;
			}
		}
		json_decref(ids);
		ops_record(x, changed, n);
		free(changed);
		if (waiting == 0 || orders_stopping(x))
			return;
		if (time(NULL) >= until) {
			if (q == 1)
				return; /* still open in Commerce's queue: the file waits */
			n = 0; /* no queue to ask: time has told */
			changed = xcalloc(x->nops + 1, sizeof(*changed));
			for (size_t i = 0; i < x->nops; i++)
				if (x->ops[i].fate == FATE_UNKNOWN) {
					settle_absent(x, &x->ops[i], op_present(x, &x->ops[i]));
					changed[n] = &x->ops[i];
					n += x->ops[i].fate == FATE_REJECTED;
				}
			ops_record(x, changed, n);
			free(changed);
			return;
		}
		for (unsigned long w = 0; w < wait && !orders_stopping(x); w += 100) {
			struct timespec ts = {0, 100000000L};
			nanosleep(&ts, NULL);
		}
		wait = wait * 2 > 30000 ? 30000 : wait * 2;
	}
}

/* plan_one: o, its order looked up: resumed when recorded, checked when new */
static int plan_one(struct opctx *x, struct op *o)
{
	if (o->fate == FATE_UNKNOWN && op_present(x, o) == 1) {
		op_retell(x, o);
		o->fate = FATE_SKIPPED;
		free(o->result);
		o->result = xstrdup("found in Commerce after a restart");
		return 1;
	}
	if (o->fate == FATE_UNKNOWN) {
		op_retell(x, o); /* the same rows as before it went */
		return 0;
	}
	json_decref(o->rejected);
	o->rejected = NULL;
	op_check(x, o);
	return o->fate == FATE_SKIPPED || o->fate == FATE_REJECTED;
}

/*
 * plan_all: the operations page_size at a time: their orders looked up (one search),
 * each resumed or checked, what was looked up let go (10,000 orders held at once
 * would be most of the memory).
 */
static int plan_all(struct opctx *x)
{
	struct op **changed = xcalloc(x->nops + 1, sizeof(*changed));
	size_t n = 0, i = 0;
	int rc = 0;

	for (size_t k = 0; k < x->nops; k++)
		if (x->ops[k].fate != FATE_NEW && x->ops[k].fate != FATE_UNKNOWN &&
		    x->ops[k].fate != FATE_RETRY)
			op_retell(x, &x->ops[k]);
	while (i < x->nops && rc == 0) {
		size_t first = i, marked = 0;
		for (; i < x->nops && marked < x->f->page_size; i++) {
			struct op *o = &x->ops[i];
			o->recheck =
			    o->fate == FATE_NEW || o->fate == FATE_UNKNOWN || o->fate == FATE_RETRY;
			marked += o->recheck;
		}
		if (marked && ops_lookup_marked(x) < 0)
			rc = -1;
		for (size_t k = first; k < i; k++) {
			struct op *o = &x->ops[k];
			if (o->recheck && rc == 0 && plan_one(x, o))
				changed[n++] = o;
			o->recheck = 0;
			json_decref(o->found);
			o->found = NULL;
		}
	}
	ops_record(x, changed, n);
	free(changed);
	return rc;
}

static void tell_outcomes(struct opctx *x)
{
	unsigned long skipped = 0, done = 0, refused = 0, open = 0;
	size_t n = 0;
	char msg[512];

	/* "The order does not allow a shipment to be created": for an order whose shipment is
	   there (a resend's, another's), what was asked is done */
	for (size_t i = 0; i < x->nops; i++) {
		struct op *o = &x->ops[i];
		o->recheck = o->fate == FATE_REFUSED && x->op->kind == OP_SHIP && o->result &&
			     strstr(o->result, "does not allow a shipment to be created");
		n += o->recheck;
	}
	if (n && !x->failed && ops_lookup_marked(x) == 0)
		for (size_t i = 0; i < x->nops; i++)
			if (x->ops[i].recheck && op_present(x, &x->ops[i]) == 1)
				x->ops[i].fate = FATE_SKIPPED;
	for (size_t i = 0; i < x->nops; i++) {
		struct op *o = &x->ops[i];
		if (o->fate == FATE_REFUSED)
			op_tell_refusal(x, o, o->result), refused++;
		else if (o->fate == FATE_SKIPPED)
			skipped++;
		else if (o->fate == FATE_DONE)
			done++;
		else if (o->fate == FATE_OPEN || o->fate == FATE_UNKNOWN)
			open++;
	}
	if (skipped) {
		snprintf(msg, sizeof(msg),
			 "%lu of %zu operations were already in Commerce: nothing was sent again "
			 "for them",
			 skipped, x->nops);
		parcel_message(x->s->parcel, msg);
	}
	log_simple(LOG_INFO, "operations_done",
		   "%s: target %s operation %s: %zu operations, %lu done, %lu already there, "
		   "%lu refused, %lu open; %lu searches, %lu posts, %lu polls",
		   x->s->parcel->path, x->t->name, x->op->name, x->nops, done, skipped, refused,
		   open, x->searches, x->posts, x->polls);
}

void orders_submit(struct submit_state *s, const struct target *t, struct ledger *l,
		   long long file_id)
{
	struct opctx x;
	struct buf err = BUF_INIT(4096);
	char msg[1400];

	memset(&x, 0, sizeof(x));
	x.s = s;
	x.t = t;
	x.f = s->parcel->feed;
	x.op = x.f->operation;
	x.ledger = l;
	x.file_id = file_id;
	buf_init(&x.why, 4096);
	x.client = commerce_client_new(t, &err);
	if (x.client == NULL) {
		snprintf(msg, sizeof(msg), "nothing sent to [commerce %s]: %s", t->name,
			 buf_cstr(&err));
		parcel_message(s->parcel, msg);
		s->status = EXIT_COMMERCE;
		goto out;
	}
	if (s->hooks && s->hooks->stop)
		commerce_client_set_stop(x.client, s->hooks->stop, s->hooks->ctx);
	if (op_table_read(&x.tab, s->parcel, &err) < 0) {
		snprintf(msg, sizeof(msg), "the parsed rows cannot be read: %s", buf_cstr(&err));
		parcel_message(s->parcel, msg);
		s->status = EXIT_COMMERCE;
		goto out;
	}
	ops_group(&x);
	if (l)
		ledger_ops_load(l, file_id, t->name, take_recorded, &x);
	if (plan_all(&x) < 0)
		goto failed;
	if (s->local_rejected + s->commerce_rejected > feed_allowance(x.f)) {
		s->exceeded = 1; /* nothing is sent for a file that fails */
		snprintf(msg, sizeof(msg), "nothing sent to [commerce %s]: too many rows rejected",
			 t->name);
		parcel_message(s->parcel, msg);
		goto told;
	}
	for (unsigned round = 0; round <= t->retries && !x.failed && !orders_stopping(&x); round++) {
		int more = 0;
		/* bulks still open (a try before this one) first: while Commerce's consumer is
		   stalled, an operation not on its order may yet be in its queue, so none of
		   unknown fate goes again (the file waits instead) */
		if (t->bulk)
			ops_poll(&x);
		if (x.failed || orders_stopping(&x))
			break;
		resolve_unknown(&x, t->bulk);
		if (x.failed || orders_stopping(&x))
			break;
		if (t->bulk)
			ops_send_bulk(&x);
		else
			ops_send_direct(&x);
		for (size_t i = 0; i < x.nops; i++) {
			struct op *o = &x.ops[i];
			more |= o->fate == FATE_UNKNOWN ||
				(o->fate == FATE_RETRY && o->tries <= t->retries);
		}
		if (!more)
			break;
	}
	if (!x.failed) { /* retriable failures past `retries` are refusals */
		struct op **past = xcalloc(x.nops + 1, sizeof(*past));
		size_t n = 0;
		for (size_t i = 0; i < x.nops; i++)
			if (x.ops[i].fate == FATE_RETRY) {
				x.ops[i].fate = FATE_REFUSED;
				past[n++] = &x.ops[i];
			}
		ops_record(&x, past, n);
		free(past);
	}
	if (orders_stopping(&x)) {
		s->stopped = 1;
		goto out;
	}
	if (!x.failed) { /* what is not known to be done or refused keeps the file waiting */
		size_t unsettled = 0;
		for (size_t i = 0; i < x.nops; i++)
			unsettled += x.ops[i].fate == FATE_UNKNOWN || x.ops[i].fate == FATE_OPEN ||
				     (x.ops[i].fate == FATE_NEW && x.ops[i].text);
		if (unsettled) {
			buf_printf(&x.why,
				   "%zu operations not known to be done: looked up again at the "
				   "next try",
				   unsettled);
			x.failed = 1;
			s->transient = 1;
		}
	}
failed:
	if (x.failed) {
		s->status = EXIT_COMMERCE;
		snprintf(s->why, sizeof(s->why), "%s", buf_cstr(&x.why));
		parcel_message(s->parcel,
			       buf_cstr(&x.why)); /* the daemon's deferral writes no report */
	}
told:
	tell_outcomes(&x);
out:
	ops_release(&x);
	op_table_release(&x.tab);
	json_decref(x.customers);
	commerce_client_free(x.client);
	buf_release(&x.why);
	buf_release(&err);
}
