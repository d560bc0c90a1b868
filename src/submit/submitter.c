/*
 * submitter - a file's batches to one Commerce target, in order, with the
 * next batch read and compressed by a second thread while one is in flight.
 * Each batch is settled by settle_batch (rows Commerce refuses are told and
 * left out); Commerce's row answers are told as the partner's lines (file,
 * member, column, value) through the parcel's report. Hooks let the daemon
 * record each request before and after it is sent, replay the answers of
 * requests made before a restart, and stop between requests.
 */
#include "config.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "commerce/payload.h"
#include "submit/settle.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "submit/submitter.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

#define QUEUE 2

/* The preparer thread fills slots in order; the sender empties them. */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct prepared slot[QUEUE];
	unsigned next_fill, next_take; /* sequence numbers */
	unsigned last;		       /* batches in all */
	int stop;
	struct parcel *parcel;
	const struct target *target;
	struct import_params params;
};

static void prepare(struct queue *q, struct prepared *p, unsigned seq)
{
	p->seq = seq;
	p->ok = 0;
	buf_reset(&p->body);
	buf_reset(&p->err);
	if (parcel_read_batch(q->parcel, seq, &p->csv, &p->origin, &p->rows, &p->err) < 0)
		return;
	if ((q->target->api == API_JSON ? payload_json : payload_csv)(
		&q->params, p->csv.data, p->csv.len, &p->body, &p->err) == 0)
		p->ok = 1;
}

static void *preparer(void *arg)
{
	struct queue *q = arg;

	pthread_mutex_lock(&q->lock);
	while (!q->stop && q->next_fill <= q->last) {
		unsigned seq = q->next_fill;
		struct prepared *p = &q->slot[seq % QUEUE];

		if (seq >= q->next_take + QUEUE) { /* both slots full: wait */
			pthread_cond_wait(&q->cond, &q->lock);
			continue;
		}
		pthread_mutex_unlock(&q->lock);
		prepare(q, p, seq);
		pthread_mutex_lock(&q->lock);
		q->next_fill++;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static struct prepared *take(struct queue *q, unsigned seq)
{
	pthread_mutex_lock(&q->lock);
	while (q->next_fill <= seq)
		pthread_cond_wait(&q->cond, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return &q->slot[seq % QUEUE];
}

static void taken(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->next_take++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* --- telling Commerce's row answers as the partner's lines ----------------- */

/* header_names: the batch's header, names NUL-separated. */
struct header_names {
	struct buf *names;
	size_t n;
};

static void header_cell(void *s, size_t len, void *ctx)
{
	struct header_names *h = ctx;

	buf_add(h->names, s, len);
	buf_addch(h->names, '\0');
	h->n++;
}

static int word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/*
 * column_in_message: the Commerce column a message is about: one it names in
 * quotes ('Value for "quantity" attribute ...'), else one it names as a word
 * ("Product with specified SKU not found"); -1 when it names none.
 */
static long column_in_message(const char *msg, const struct buf *header, size_t ncols)
{
	const char *q = msg;

	while ((q = strchr(q, '"')) != NULL) {
		const char *end = strchr(q + 1, '"');
		const char *name = header->data;
		if (end == NULL)
			break;
		for (size_t i = 0; i < ncols && name; i++, name += strlen(name) + 1)
			if ((size_t)(end - q - 1) == strlen(name) &&
			    strncmp(q + 1, name, strlen(name)) == 0)
				return (long)i;
		q = end + 1;
	}
	for (const char *w = msg; *w; w++) {
		const char *name = header->data;
		size_t n = 0;

		if (!word_char(*w) || (w > msg && word_char(w[-1])))
			continue;
		while (word_char(w[n]))
			n++;
		for (size_t i = 0; i < ncols && name; i++, name += strlen(name) + 1)
			if (n == strlen(name) && strncasecmp(w, name, n) == 0)
				return (long)i;
	}
	return -1;
}

struct cell_get {
	unsigned long want_row;
	long want_col;
	unsigned long row;
	long col;
	struct buf *out;
	int found;
};

static void get_cell(void *s, size_t len, void *ctx)
{
	struct cell_get *g = ctx;

	if (g->row == g->want_row && (g->col == g->want_col || g->want_col < 0)) {
		buf_add(g->out, s, len);
		if (g->want_col < 0)
			buf_addch(g->out, '\0');
		g->found = 1;
	}
	g->col++;
}

static void get_row(int c, void *ctx)
{
	struct cell_get *g = ctx;

	(void)c;
	g->row++;
	g->col = 0;
}

/* batch_cell: the value of column col (-1: every cell, NUL-separated) in data row row. */
static void batch_cell(const struct buf *csv, unsigned long row, long col, struct buf *out)
{
	struct cell_get g = {row, col, 0, 0, out, 0};
	struct csv_parser p;

	csv_init(&p, CSV_STRICT);
	csv_parse(&p, csv->data, csv->len, get_cell, get_row, &g);
	csv_fini(&p, get_cell, get_row, &g);
	csv_free(&p);
}

/*
 * quoted_value_column: the column whose value the message quotes (Source code
 * "warehouse_xx" does not exists); -1 when it quotes none of the row's values.
 */
static long quoted_value_column(const char *msg, const struct buf *cells, size_t ncols)
{
	for (const char *q = strchr(msg, '"'); q; q = strchr(q, '"')) {
		const char *end = strchr(q + 1, '"'), *cell = cells->data;
		size_t len;

		if (end == NULL)
			break;
		len = (size_t)(end - q - 1);
		for (size_t i = 0; i < ncols && cell && cell < cells->data + cells->len;
		     i++, cell += strlen(cell) + 1)
			if (len && strlen(cell) == len && strncmp(q + 1, cell, len) == 0)
				return (long)i;
		q = end + 1;
	}
	return -1;
}

/* partner_column: the partner's name for a Commerce column. */
static const char *partner_column(const struct feed *f, const char *commerce)
{
	if (f->map == NULL)
		return commerce;
	for (size_t i = 0; i < mapping_count(f->map); i++)
		if (strcmp(mapping_column(f->map, i), commerce) == 0)
			return mapping_source(f->map, i) ? mapping_source(f->map, i) : commerce;
	return commerce;
}

void submit_tell_rows(struct submit_state *s, const struct target *t, const struct prepared *p,
		      const struct answer *a, const unsigned *map, size_t nmap)
{
	struct buf header = BUF_INIT(BUF_NOCAP), cells = BUF_INIT(BUF_NOCAP),
		   msg = BUF_INIT(BUF_NOCAP);
	struct header_names rp = {&header, 0};
	struct csv_parser parser;
	const char *nl = memchr(p->csv.data, '\n', p->csv.len);

	/* the batch's header: the Commerce column names */
	csv_init(&parser, CSV_STRICT);
	csv_parse(&parser, p->csv.data, nl ? (size_t)(nl - p->csv.data) : p->csv.len, header_cell,
		  NULL, &rp);
	csv_fini(&parser, header_cell, NULL, &rp);
	csv_free(&parser);
	for (size_t i = 0; i < a->nrows; i++) {
		const struct row_answer *ra = &a->rows[i];
		char line[4200];
		long col;
		const char *colname = "", *value = "";
		unsigned long row; /* 1-based row of the batch */

		if (ra->row == 0 || ra->row > nmap || map[ra->row - 1] >= p->rows) {
			buf_reset(&msg);
			buf_printf(&msg,
				   "Commerce (%s) named row %lu of a request of batch %u, which "
				   "carried %zu rows: %s",
				   t->name, ra->row, p->seq, nmap, ra->message);
			parcel_message(s->parcel, buf_cstr(&msg));
			continue;
		}
		row = map[ra->row - 1] + 1UL;
		parcel_line(s->parcel, p->origin[row - 1].member, p->origin[row - 1].line, line,
			    sizeof(line));
		buf_reset(&cells);
		batch_cell(&p->csv, row, -1, &cells);
		col = column_in_message(ra->message, &header, rp.n);
		if (col < 0)
			col = quoted_value_column(ra->message, &cells, rp.n);
		if (col >= 0) {
			const char *name = header.data;
			for (long k = 0; k < col; k++)
				name += strlen(name) + 1;
			colname = partner_column(s->parcel->feed, name);
			value = cells.data;
			for (long k = 0; k < col && value < cells.data + cells.len; k++)
				value += strlen(value) + 1;
			if (value >= cells.data + cells.len)
				value = "";
		}
		buf_reset(&msg);
		buf_printf(&msg, "Commerce%s%s rejected the row: %s",
			   s->parcel->feed->targets.n > 1 ? " " : "",
			   s->parcel->feed->targets.n > 1 ? t->name : "", ra->message);
		parcel_problem(s->parcel, line, colname, value, strlen(value), buf_cstr(&msg));
		if (keyset_insert(&s->rejected_lines, line, strlen(line), 1) == 0)
			s->commerce_rejected++;
	}
	buf_release(&header);
	buf_release(&cells);
	buf_release(&msg);
}

void submit_tell_unnamed(struct submit_state *s, const struct target *t, const struct prepared *p,
			 unsigned row)
{
	char line[4200], msg[512];

	parcel_line(s->parcel, p->origin[row].member, p->origin[row].line, line, sizeof(line));
	snprintf(
	    msg, sizeof(msg),
	    "Commerce%s%s refused this row without saying why (Commerce before the release that "
	    "names rows)",
	    s->parcel->feed->targets.n > 1 ? " " : "",
	    s->parcel->feed->targets.n > 1 ? t->name : "");
	parcel_problem(s->parcel, line, "", "", 0, msg);
	if (keyset_insert(&s->rejected_lines, line, strlen(line), 1) == 0)
		s->commerce_rejected++;
}

unsigned long submit_allowed(const struct submit_state *s)
{
	return s->parcel->feed->validation == VALIDATION_STOP ? 0 : s->parcel->feed->allowed_errors;
}

/* queue_open: the batch queue of one target, its preparer thread started. */
static void queue_open(struct queue *q, struct parcel *pc, const struct target *t,
		       pthread_t *thread)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->next_fill = 1;
	q->next_take = 1;
	q->last = (unsigned)pc->batches;
	q->parcel = pc;
	q->target = t;
	q->params.entity = pc->feed->entity->name;
	q->params.behavior = pc->feed->behavior;
	/* stop-on-errors whatever the feed says: under skip-errors Commerce drops bad
	   rows without a word (StartImport::canSkipValidationErrors); the feed's
	   `validation` is dropgate's own rule, applied by settle_batch */
	q->params.skip_errors = 0;
	q->params.allowed_errors = 0;
	for (int i = 0; i < QUEUE; i++) {
		buf_init(&q->slot[i].csv, BUF_NOCAP);
		buf_init(&q->slot[i].body, BUF_NOCAP);
		buf_init(&q->slot[i].err, 4096);
	}
	pthread_create(thread, NULL, preparer, q);
}

/* queue_close: the preparer stopped and joined, the slots freed. */
static void queue_close(struct queue *q, pthread_t thread)
{
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	q->next_take = q->last + QUEUE + 1; /* wake a waiting preparer */
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(thread, NULL);
	for (int i = 0; i < QUEUE; i++) {
		buf_release(&q->slot[i].csv);
		buf_release(&q->slot[i].body);
		buf_release(&q->slot[i].err);
		free(q->slot[i].origin);
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

/* send_all: each batch in turn, settled (settle.c), until the last or a stop. */
static void send_all(struct submit_state *s, const struct target *t, struct queue *q,
		     struct commerce_client *client, struct buf *msg)
{
	unsigned long batches = s->parcel->batches;

	for (unsigned seq = 1; seq <= batches && !s->exceeded; seq++) {
		struct prepared *p = take(q, seq);
		enum settle_outcome out;

		if (!p->ok) {
			buf_reset(msg);
			buf_printf(msg, "batch %u not sent: %s", seq, buf_cstr(&p->err));
			parcel_message(s->parcel, buf_cstr(msg));
			s->status = EXIT_COMMERCE;
			taken(q);
			break;
		}
		out = settle_batch(s, t, client, p);
		taken(q);
		if (out == SETTLE_STOP) {
			if (seq < batches && !s->stopped) {
				buf_reset(msg);
				buf_printf(msg, "batches %u to %lu were not sent to %s", seq + 1,
					   batches, t->name);
				parcel_message(s->parcel, buf_cstr(msg));
			}
			break;
		}
	}
}

/* submit_target: every batch to one target. */
void submit_target(struct submit_state *s, const struct target *t)
{
	struct parcel *pc = s->parcel;
	struct queue q;
	struct buf err = BUF_INIT(4096), msg = BUF_INIT(BUF_NOCAP);
	struct commerce_client *client = NULL;
	pthread_t thread;
	struct logline l;

	if (s->exceeded) { /* an earlier target found more rejected rows than the feed allows */
		buf_printf(&msg, "nothing sent to [commerce %s]: too many rows rejected", t->name);
		parcel_message(pc, buf_cstr(&msg));
		goto out;
	}
	client = commerce_client_new(t, &err);
	if (client == NULL) {
		buf_printf(&msg, "nothing sent to [commerce %s]: %s", t->name, buf_cstr(&err));
		parcel_message(pc, buf_cstr(&msg));
		s->status = EXIT_COMMERCE;
		goto out;
	}
	if (s->hooks && s->hooks->stop)
		commerce_client_set_stop(client, s->hooks->stop, s->hooks->ctx);
	s->imported = 0;
	queue_open(&q, pc, t, &thread);
	send_all(s, t, &q, client, &msg);
	queue_close(&q, thread);
	log_begin(&l, LOG_INFO, "target_done");
	log_kv(&l, "file", pc->path);
	log_kv(&l, "target", t->name);
	log_kvf(&l, "wire_bytes", "%llu", commerce_wire_bytes(client));
	log_end(&l);
out:
	commerce_client_free(client);
	buf_release(&err);
	buf_release(&msg);
}
