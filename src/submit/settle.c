/*
 * settle - one batch to one Commerce target until it is settled (settle.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "commerce/payload.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "submit/settle.h"
#include "submit/tell.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A part of the batch: rows (0-based, ascending) that go, or went, in one request. */
struct part {
	unsigned *rows;
	size_t n;
	int known_bad; /* holds a bad row: halved (or told) without being sent */
	int left;      /* the smaller half of a refused part; its sibling is next on the stack */
};

struct settle {
	struct submit_state *s;
	const struct target *t;
	struct commerce_client *client;
	const struct prepared *p;
	struct import_params params;
	size_t *rec; /* where each CSV record starts: the header, each row, then the end */
	struct part *stack;
	size_t depth, cap;
	unsigned sub; /* the next request's number */
	int through;  /* the batch is through: settled, or refused for good */
	int told;     /* the answer that settled it said so to the hooks */
	struct answer a;
	struct buf rows, csv, body, msg;
};

static void push(struct settle *st, unsigned *rows, size_t n, int known_bad, int left)
{
	if (st->depth == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 16;
		st->stack = xreallocarray(st->stack, st->cap, sizeof(*st->stack));
	}
	st->stack[st->depth++] = (struct part){rows, n, known_bad, left};
}

/* rows_text: a part's rows as 1-based ranges, "1-40,42". */
static void rows_text(const struct part *pt, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < pt->n;) {
		size_t j = i;
		while (j + 1 < pt->n && pt->rows[j + 1] == pt->rows[j] + 1)
			j++;
		buf_printf(out, "%s%u", out->len ? "," : "", pt->rows[i] + 1);
		if (j > i)
			buf_printf(out, "-%u", pt->rows[j] + 1);
		i = j + 1;
	}
}

/* record_starts: where each record of our own batch CSV starts (RFC 4180, LF). */
static size_t *record_starts(const struct buf *csv, size_t records)
{
	size_t *rec = xcalloc(records + 1, sizeof(*rec)), n = 1;
	int quoted = 0;

	for (size_t i = 0; i < csv->len; i++) {
		if (csv->data[i] == '"')
			quoted = !quoted;
		else if (csv->data[i] == '\n' && !quoted && i + 1 < csv->len) {
			if (n == records)
				break;
			rec[n++] = i + 1;
		}
	}
	if (n != records) {
		free(rec);
		return NULL;
	}
	rec[records] = csv->len;
	return rec;
}

/* part_body: the request body for a part: the prepared one for the whole batch. */
static const struct buf *part_body(struct settle *st, const struct part *pt, struct buf *err)
{
	const struct prepared *p = st->p;

	if (pt->n == p->rows)
		return &p->body;
	if (st->rec == NULL && (st->rec = record_starts(&p->csv, p->rows + 1)) == NULL) {
		buf_printf(err, "batch %u does not hold the %zu rows its lines file says", p->seq,
			   p->rows);
		return NULL;
	}
	buf_reset(&st->csv);
	buf_add(&st->csv, p->csv.data, st->rec[1]);
	for (size_t i = 0; i < pt->n; i++)
		buf_add(&st->csv, p->csv.data + st->rec[pt->rows[i] + 1],
			st->rec[pt->rows[i] + 2] - st->rec[pt->rows[i] + 1]);
	if (st->csv.len && st->csv.data[st->csv.len - 1] != '\n')
		buf_addch(&st->csv, '\n');
	buf_reset(&st->body);
	if ((st->t->api == API_JSON ? payload_json : payload_csv)(&st->params, st->csv.data,
								  st->csv.len, &st->body, err) < 0)
		return NULL;
	return &st->body;
}

static void log_answer(struct settle *st, const struct part *pt)
{
	struct logline l;

	log_begin(&l, st->a.cls == ANSWER_DONE ? LOG_INFO : LOG_WARN, "batch_answered");
	log_kv(&l, "file", st->s->parcel->path);
	log_kv(&l, "target", st->t->name);
	log_kvf(&l, "batch", "%u", st->p->seq);
	log_kvf(&l, "request", "%u", st->sub);
	log_kvf(&l, "rows", "%zu", pt->n);
	log_kvf(&l, "http", "%ld", st->a.http_status);
	log_kvf(&l, "processed", "%lu", st->a.processed);
	log_kvf(&l, "rows_rejected", "%zu", st->a.nrows);
	if (st->a.message.len)
		log_kv(&l, "msg", buf_cstr(&st->a.message));
	log_end(&l);
}

/*
 * request: a part's answer in st->a: the one recorded before a restart, else
 * Commerce's. 0, or -1 when the sending must end (stop, or nothing to send).
 */
static int request(struct settle *st, const struct part *pt)
{
	const struct submit_hooks *h = st->s->hooks;
	const struct buf *body;
	struct buf err = BUF_INIT(4096);
	unsigned seq = st->p->seq;

	rows_text(pt, &st->rows);
	if (h && h->recorded &&
	    h->recorded(h->ctx, st->t, seq, st->sub, buf_cstr(&st->rows), &st->a)) {
		st->sub++;
		return 0;
	}
	if (h && h->stop && h->stop(h->ctx)) {
		st->s->stopped = 1;
		return -1;
	}
	if ((body = part_body(st, pt, &err)) == NULL) {
		buf_reset(&st->msg);
		buf_printf(&st->msg, "batch %u not sent: %s", seq, buf_cstr(&err));
		parcel_message(st->s->parcel, buf_cstr(&st->msg));
		st->s->status = EXIT_COMMERCE;
		buf_release(&err);
		return -1;
	}
	if (h && h->before_send &&
	    h->before_send(h->ctx, st->t, seq, st->sub, buf_cstr(&st->rows)) < 0) {
		/* not recorded as sent, so not sent: the file is parked, not refused */
		st->s->stopped = 1;
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	commerce_import(st->client, body->data, body->len, &st->a);
	if (h && h->stop && h->stop(h->ctx) && st->a.cls == ANSWER_TRANSIENT) {
		/* cut short by the stop: still "sent", sent again after the restart */
		st->s->stopped = 1;
		return -1;
	}
	if (h && h->answered) {
		/* accepted with nothing left to send: the batch is settled with this answer */
		const char *settles = st->a.cls == ANSWER_DONE && st->depth == 0 ? "done" : NULL;

		h->answered(h->ctx, st->t, seq, st->sub, buf_cstr(&st->rows), &st->a, settles);
		st->told = settles != NULL;
	}
	log_answer(st, pt);
	st->sub++;
	return 0;
}

static unsigned line_of(const struct settle *st, unsigned row)
{
	return st->p->origin[row].line;
}

/* over: are more rows rejected than the feed allows, with `more` not yet told? */
static int over(const struct settle *st, unsigned long more)
{
	const struct submit_state *s = st->s;

	return s->local_rejected + s->commerce_rejected + more > submit_allowed(s);
}

/* stop_over: nothing more is sent; the report says what Commerce holds of the file. */
static enum settle_outcome stop_over(struct settle *st, const struct part *pt, int unnamed)
{
	struct submit_state *s = st->s;
	char allows[64];

	if (s->parcel->feed->validation == VALIDATION_STOP)
		snprintf(allows, sizeof(allows), "validation = stop-on-errors");
	else
		snprintf(allows, sizeof(allows), "allowed_errors = %lu",
			 s->parcel->feed->allowed_errors);
	buf_reset(&st->msg);
	buf_printf(&st->msg,
		   "batch %u (lines %u to %u): Commerce (%s) refused rows%s; %s%lu rows rejected "
		   "in all are "
		   "more than %s allows, so nothing more is sent; ",
		   st->p->seq, line_of(st, pt->rows[0]), line_of(st, pt->rows[pt->n - 1]),
		   st->t->name, unnamed ? " without naming them" : "", unnamed ? "at least " : "",
		   s->local_rejected + s->commerce_rejected + (unnamed ? 1 : 0), allows);
	if (s->imported)
		buf_printf(&st->msg, "%lu rows of this file sent before are imported in %s",
			   s->imported, st->t->name);
	else
		buf_printf(&st->msg, "nothing of this file is imported in %s", st->t->name);
	parcel_message(s->parcel, buf_cstr(&st->msg));
	s->exceeded = 1;
	st->through = 1;
	return SETTLE_STOP;
}

/* refused_whole: a request refused for what it is, not for its rows. */
static enum settle_outcome refused_whole(struct settle *st, const struct part *pt)
{
	const struct answer *a = &st->a;

	if (a->cls == ANSWER_TRANSIENT)
		st->s->transient = 1;
	buf_reset(&st->msg);
	buf_printf(&st->msg, "batch %u (lines %u to %u) %s by Commerce (%s): %s", st->p->seq,
		   line_of(st, pt->rows[0]), line_of(st, pt->rows[pt->n - 1]),
		   a->cls == ANSWER_REFUSED ? "refused as a whole" : "not accepted", st->t->name,
		   buf_cstr(&a->message));
	parcel_message(st->s->parcel, buf_cstr(&st->msg));
	st->s->status = EXIT_COMMERCE;
	st->through = a->cls != ANSWER_TRANSIENT;
	/* a 200 refusal is about this batch: the next may pass; a 4xx, 401 or an
	   unreachable target: the rest would fare no better */
	return a->cls == ANSWER_REFUSED && a->http_status == 200 ? SETTLE_NEXT : SETTLE_STOP;
}

static unsigned *copy_rows(const unsigned *rows, size_t n)
{
	unsigned *c = xreallocarray(NULL, n ? n : 1, sizeof(*c));

	memcpy(c, rows, n * sizeof(*c));
	return c;
}

/*
 * The handlers of a refusal: 0 to go on, -1 when more rows are rejected than
 * the feed allows. They push copies; pt stays the caller's.
 */

/* refused_unnamed: pt holds a bad row Commerce did not name: halve it, or tell it. */
static int refused_unnamed(struct settle *st, const struct part *pt)
{
	size_t half = pt->n / 2;

	if (over(st, 1))
		return -1;
	if (pt->n == 1) {
		submit_tell_unnamed(st->s, st->t, st->p, pt->rows[0]);
		return 0;
	}
	push(st, copy_rows(pt->rows + half, pt->n - half), pt->n - half, 0, 0);
	push(st, copy_rows(pt->rows, half), half, 0, 1); /* the smaller half first */
	return 0;
}

/* refused_named: tell the rows Commerce named; what is left goes again. */
static int refused_named(struct settle *st, const struct part *pt)
{
	char *named = xcalloc(pt->n, 1);
	unsigned *kept = xreallocarray(NULL, pt->n, sizeof(*kept));
	size_t left = 0;

	for (size_t i = 0; i < st->a.nrows; i++)
		if (st->a.rows[i].row >= 1 && st->a.rows[i].row <= pt->n)
			named[st->a.rows[i].row - 1] = 1;
	for (size_t i = 0; i < pt->n; i++)
		if (!named[i])
			kept[left++] = pt->rows[i];
	free(named);
	if (left == pt->n) { /* only rows it does not have: as if it named none */
		free(kept);
		return refused_unnamed(st, pt);
	}
	submit_tell_rows(st->s, st->t, st->p, &st->a, pt->rows, pt->n);
	if (left && !over(st, 0)) {
		push(st, kept, left, 0, 0);
		return 0;
	}
	free(kept);
	return over(st, 0) ? -1 : 0;
}

/* settle_part: one part off the stack, sent (or replayed) and its answer acted on. */
static int settle_part(struct settle *st, const struct part *pt, enum settle_outcome *out)
{
	int rc = 0;

	if (pt->known_bad) {
		rc = refused_unnamed(st, pt);
		goto over;
	}
	if (request(st, pt) < 0) {
		*out = SETTLE_STOP;
		return -1;
	}
	switch (st->a.cls) {
	case ANSWER_DONE:
		st->s->imported += pt->n;
		if (pt->left && st->depth) /* its sibling holds the bad row */
			st->stack[st->depth - 1].known_bad = 1;
		return 0;
	case ANSWER_ROWS:
		rc = refused_named(st, pt);
		break;
	case ANSWER_UNNAMED:
		rc = refused_unnamed(st, pt);
		break;
	default:
		*out = refused_whole(st, pt);
		return -1;
	}
over:
	if (rc < 0) {
		*out = stop_over(st, pt, st->a.cls == ANSWER_UNNAMED || pt->known_bad);
		return -1;
	}
	return 0;
}

enum settle_outcome settle_batch(struct submit_state *s, const struct target *t,
				 struct commerce_client *client, const struct prepared *p)
{
	struct settle st;
	enum settle_outcome out = SETTLE_DONE;
	unsigned *all = xreallocarray(NULL, p->rows ? p->rows : 1, sizeof(*all));

	memset(&st, 0, sizeof(st));
	st.s = s;
	st.t = t;
	st.client = client;
	st.p = p;
	st.params.entity = s->parcel->feed->entity->name;
	st.params.behavior = s->parcel->feed->behavior;
	answer_init(&st.a);
	buf_init(&st.rows, BUF_NOCAP);
	buf_init(&st.csv, BUF_NOCAP);
	buf_init(&st.body, BUF_NOCAP);
	buf_init(&st.msg, BUF_NOCAP);
	for (size_t i = 0; i < p->rows; i++)
		all[i] = (unsigned)i;
	if (p->rows)
		push(&st, all, p->rows, 0, 0);
	else
		free(all);
	while (st.depth) {
		struct part pt = st.stack[--st.depth];
		int rc = settle_part(&st, &pt, &out);

		free(pt.rows);
		if (rc < 0)
			break;
	}
	while (st.depth)
		free(st.stack[--st.depth].rows);
	if (out == SETTLE_DONE)
		st.through = 1;
	if (st.through && !st.told && s->hooks && s->hooks->settled)
		s->hooks->settled(s->hooks->ctx, t, p->seq,
				  out == SETTLE_DONE ? "done" : "refused");
	free(st.stack);
	free(st.rec);
	answer_release(&st.a);
	buf_release(&st.rows);
	buf_release(&st.csv);
	buf_release(&st.body);
	buf_release(&st.msg);
	return out;
}
