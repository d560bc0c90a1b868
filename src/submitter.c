/*
 * submitter - a file's batches to one Commerce target, in order, with the
 * next batch read and compressed by a second thread while one is in flight.
 * Commerce's row answers are told as the partner's lines (file, member,
 * column, value) through the filecheck's report. Hooks let the daemon skip
 * batches already confirmed, record each batch before and after it is sent,
 * and stop between batches.
 */
#include "config.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "commands.h"
#include "commerce/client.h"
#include "commerce/payload.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "submitter.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

#define QUEUE 2

struct prepared {
	unsigned seq;
	struct buf csv;
	struct buf body;
	struct batch_origin *origin;
	size_t rows;
	int ok;
	struct buf err;
};

/* The preparer thread fills slots in order; the sender empties them. */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct prepared slot[QUEUE];
	unsigned next_fill, next_take; /* sequence numbers */
	unsigned last;                 /* batches in all */
	int stop;
	struct filecheck *fc;
	const struct target *target;
	struct import_params params;
	int skip_body; /* read the batch only, for telling its answers */
};

static int read_whole(const char *path, struct buf *out)
{
	char block[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	buf_reset(out);
	while ((n = read(fd, block, sizeof(block))) > 0)
		if (buf_add(out, block, (size_t)n) < 0)
			break;
	close(fd);
	return n == 0 ? 0 : -1;
}

static void prepare(struct queue *q, struct prepared *p, unsigned seq)
{
	char *path = filecheck_batch_path(q->fc, seq, 0);
	struct buf lines = BUF_INIT(BUF_NOCAP);

	p->seq = seq;
	p->ok = 0;
	buf_reset(&p->body);
	buf_reset(&p->err);
	if (read_whole(path, &p->csv) < 0) {
		buf_printf(&p->err, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	free(path);
	path = filecheck_batch_path(q->fc, seq, 1);
	if (read_whole(path, &lines) < 0) {
		buf_printf(&p->err, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	p->rows = lines.len / sizeof(struct batch_origin);
	if (p->rows == 0 || lines.len % sizeof(struct batch_origin) != 0) {
		/* every batch has rows: an empty or cut index is damage (a power loss) */
		buf_printf(&p->err, "the line index %s is damaged (%zu bytes)", path, lines.len);
		goto out;
	}
	free(p->origin);
	p->origin = (struct batch_origin *)buf_detach(&lines);
	if (q->skip_body || (q->target->api == API_JSON ? payload_json : payload_csv)(
				    &q->params, p->csv.data, p->csv.len, &p->body, &p->err) == 0)
		p->ok = 1;
out:
	free(path);
	buf_release(&lines);
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
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
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
			if ((size_t)(end - q - 1) == strlen(name) && strncmp(q + 1, name, strlen(name)) == 0)
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

	if (g->row == g->want_row && g->col == g->want_col) {
		buf_add(g->out, s, len);
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

/* batch_cell: the value of column col in data row row of our own batch CSV. */
static void batch_cell(const struct buf *csv, unsigned long row, long col, struct buf *out)
{
	struct cell_get g = { row, col, 0, 0, out, 0 };
	struct csv_parser p;

	csv_init(&p, CSV_STRICT);
	csv_parse(&p, csv->data, csv->len, get_cell, get_row, &g);
	csv_fini(&p, get_cell, get_row, &g);
	csv_free(&p);
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

static void tell_rows(struct submit_state *s, const struct target *t, const struct prepared *p,
		      const struct answer *a)
{
	struct buf header = BUF_INIT(BUF_NOCAP), value = BUF_INIT(BUF_NOCAP), msg = BUF_INIT(BUF_NOCAP);
	struct header_names rp = { &header, 0 };
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
		const char *colname = "";

		if (ra->row == 0 || ra->row > p->rows) {
			buf_reset(&msg);
			buf_printf(&msg, "Commerce (%s) named row %lu of batch %u, which has %zu rows: %s",
				   t->name, ra->row, p->seq, p->rows, ra->message);
			filecheck_message(s->fc, buf_cstr(&msg));
			continue;
		}
		filecheck_line(s->fc, p->origin[ra->row - 1].member, p->origin[ra->row - 1].line, line,
			       sizeof(line));
		col = column_in_message(ra->message, &header, rp.n);
		buf_reset(&value);
		if (col >= 0) {
			const char *name = header.data;
			for (long k = 0; k < col; k++)
				name += strlen(name) + 1;
			colname = partner_column(s->fc->feed, name);
			batch_cell(&p->csv, ra->row, col, &value);
		}
		buf_reset(&msg);
		buf_printf(&msg, "Commerce%s%s rejected the row: %s", s->fc->feed->targets.n > 1 ? " " : "",
			   s->fc->feed->targets.n > 1 ? t->name : "", ra->message);
		filecheck_problem(s->fc, line, colname, buf_cstr(&value), value.len, buf_cstr(&msg));
		if (keyset_insert(&s->rejected_lines, line, strlen(line), 1) == 0)
			s->commerce_rejected++;
	}
	buf_release(&header);
	buf_release(&value);
	buf_release(&msg);
}

void tell_batch_answer(struct submit_state *s, const struct target *t, unsigned seq,
		       const struct answer *a)
{
	struct queue q;
	struct prepared p;

	memset(&q, 0, sizeof(q));
	memset(&p, 0, sizeof(p));
	q.fc = s->fc;
	q.target = t;
	q.params.entity = s->fc->feed->entity->name;
	q.params.behavior = s->fc->feed->behavior;
	buf_init(&p.csv, BUF_NOCAP);
	buf_init(&p.body, BUF_NOCAP);
	buf_init(&p.err, 4096);
	q.skip_body = 1;
	prepare(&q, &p, seq);
	if (p.ok)
		tell_rows(s, t, &p, a);
	else
		filecheck_message(s->fc, buf_cstr(&p.err));
	buf_release(&p.csv);
	buf_release(&p.body);
	buf_release(&p.err);
	free(p.origin);
}

/* submit_target: every batch to one target. */
void submit_target(struct submit_state *s, const struct target *t)
{
	struct filecheck *fc = s->fc;
	struct queue q;
	struct buf err = BUF_INIT(4096), msg = BUF_INIT(BUF_NOCAP);
	struct commerce_client *client;
	struct answer a;
	pthread_t thread;
	unsigned long batches = fc->res.batches;
	unsigned seq;

	client = commerce_client_new(t, &err);
	if (client && s->hooks && s->hooks->stop)
		commerce_client_set_stop(client, s->hooks->stop, s->hooks->ctx);
	if (client == NULL) {
		buf_printf(&msg, "nothing sent to [commerce %s]: %s", t->name, buf_cstr(&err));
		filecheck_message(fc, buf_cstr(&msg));
		s->status = EXIT_COMMERCE;
		buf_release(&err);
		buf_release(&msg);
		return;
	}
	memset(&q, 0, sizeof(q));
	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.cond, NULL);
	q.next_fill = 1;
	q.next_take = 1;
	q.last = (unsigned)batches;
	q.fc = fc;
	q.target = t;
	q.params.entity = fc->feed->entity->name;
	q.params.behavior = fc->feed->behavior;
	q.params.skip_errors = fc->feed->validation == VALIDATION_SKIP;
	q.params.allowed_errors = fc->feed->allowed_errors;
	for (int i = 0; i < QUEUE; i++) {
		buf_init(&q.slot[i].csv, BUF_NOCAP);
		buf_init(&q.slot[i].body, BUF_NOCAP);
		buf_init(&q.slot[i].err, 4096);
	}
	answer_init(&a);
	pthread_create(&thread, NULL, preparer, &q);
	for (seq = 1; seq <= batches; seq++) {
		struct prepared *p = take(&q, seq);
		enum answer_class cls;
		struct logline l;

		if (s->hooks && s->hooks->skip && s->hooks->skip(s->hooks->ctx, t, seq)) {
			taken(&q); /* confirmed before a restart: not sent again */
			continue;
		}
		if (s->hooks && s->hooks->stop && s->hooks->stop(s->hooks->ctx)) {
			s->stopped = 1;
			taken(&q);
			break;
		}
		if (!p->ok) {
			buf_reset(&msg);
			buf_printf(&msg, "batch %u not sent: %s", seq, buf_cstr(&p->err));
			filecheck_message(fc, buf_cstr(&msg));
			s->status = EXIT_COMMERCE;
			taken(&q);
			break;
		}
		if (s->hooks && s->hooks->before_send &&
		    s->hooks->before_send(s->hooks->ctx, t, seq) < 0) {
			s->status = EXIT_COMMERCE;
			taken(&q);
			break;
		}
		cls = commerce_import(client, p->body.data, p->body.len, &a);
		if (s->hooks && s->hooks->stop && s->hooks->stop(s->hooks->ctx) &&
		    cls == ANSWER_TRANSIENT) {
			/* cut short by the stop: the batch stays "sent", resent after the restart */
			s->stopped = 1;
			taken(&q);
			break;
		}
		if (s->hooks && s->hooks->answered)
			s->hooks->answered(s->hooks->ctx, t, seq, &a);
		if (cls == ANSWER_TRANSIENT)
			s->transient = 1;
		log_begin(&l, cls == ANSWER_DONE ? LOG_INFO : LOG_WARN, "batch_answered");
		log_kv(&l, "file", fc->path);
		log_kv(&l, "target", t->name);
		log_kvf(&l, "batch", "%u", seq);
		log_kvf(&l, "rows", "%zu", p->rows);
		log_kvf(&l, "http", "%ld", a.http_status);
		log_kvf(&l, "processed", "%lu", a.processed);
		log_kvf(&l, "rows_rejected", "%zu", a.nrows);
		if (a.message.len)
			log_kv(&l, "msg", buf_cstr(&a.message));
		log_end(&l);
		if (!s->defer_telling)
			tell_rows(s, t, p, &a);
		if (cls == ANSWER_DONE) {
			if (a.processed + a.nrows != p->rows) {
				buf_reset(&msg);
				buf_printf(&msg, "batch %u: Commerce (%s) processed %lu and rejected %zu of %zu rows sent",
					   seq, t->name, a.processed, a.nrows, p->rows);
				filecheck_message(fc, buf_cstr(&msg));
			}
			taken(&q);
			continue;
		}
		buf_reset(&msg);
		buf_printf(&msg, "batch %u (lines %u to %u) %s by Commerce (%s): %s", seq,
			   p->origin[0].line, p->origin[p->rows - 1].line,
			   cls == ANSWER_REFUSED ? "refused as a whole" : "not accepted", t->name,
			   buf_cstr(&a.message));
		filecheck_message(fc, buf_cstr(&msg));
		s->status = EXIT_COMMERCE;
		taken(&q);
		if (cls != ANSWER_REFUSED || a.http_status != 200) {
			/* unreachable, not authorised, or refused for what the request is
			   (a 4xx, TLS trust): the rest would fare no better. A 200 refusal
			   is about this batch's rows: the next batch may pass. */
			if (seq < batches) {
				buf_reset(&msg);
				buf_printf(&msg, "batches %u to %lu were not sent to %s", seq + 1,
					   batches, t->name);
				filecheck_message(fc, buf_cstr(&msg));
			}
			break;
		}
	}
	pthread_mutex_lock(&q.lock);
	q.stop = 1;
	q.next_take = (unsigned)batches + QUEUE + 1; /* wake a waiting preparer */
	pthread_cond_broadcast(&q.cond);
	pthread_mutex_unlock(&q.lock);
	pthread_join(thread, NULL);
	{
		struct logline l;
		log_begin(&l, LOG_INFO, "target_done");
		log_kv(&l, "file", fc->path);
		log_kv(&l, "target", t->name);
		log_kvf(&l, "wire_bytes", "%llu", commerce_wire_bytes(client));
		log_end(&l);
	}
	for (int i = 0; i < QUEUE; i++) {
		buf_release(&q.slot[i].csv);
		buf_release(&q.slot[i].body);
		buf_release(&q.slot[i].err);
		free(q.slot[i].origin);
	}
	pthread_mutex_destroy(&q.lock);
	pthread_cond_destroy(&q.cond);
	answer_release(&a);
	commerce_client_free(client);
	buf_release(&err);
	buf_release(&msg);
}

