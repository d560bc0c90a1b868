/*
 * confirm - what Commerce imported, into the key store (sift.h): each
 * request's rows kept until sift_flush puts them there in hash order, and a
 * target's end (a full snapshot's marks, a delta's unchanged rows' stamps).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/batch.h"
#include "lib/feed.h"
#include "lib/parsed.h"
#include "lib/rowsum.h"
#include "parse/parcel.h"
#include "queue/keys.h"
#include "sift/known.h"
#include "sift/records.h"
#include "sift/sift.h"
#include "util/log.h"
#include "util/xalloc.h"

struct confirm {
	struct sift *s;
	struct row_layout lay;
	int have_layout;
	struct buf header;
	const char *rows; /* "1-40,42" */
	struct key_entry *e;
	size_t n;
	char **texts; /* owned: key, row per entry */
	struct buf key, scratch, text;
	int in_full;
};

/* in_ranges: is row (1-based) in "1-40,42"? */
static int in_ranges(const char *rows, size_t row)
{
	const char *p = rows;

	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (row >= a && row <= b)
			return 1;
		if (*end != ',')
			break;
		p = end + 1;
	}
	return 0;
}

static int on_confirmed(void *ctx, const struct strview *v, size_t n, size_t index)
{
	struct confirm *cf = ctx;
	struct key_entry *e;
	uint64_t khash;

	if (index == 0) {
		layout_init(&cf->lay, cf->s->f->entity, v, n);
		cf->have_layout = 1;
		record_text(&cf->header, v, n);
		return 0;
	}
	if (n != cf->lay.ncols || (cf->rows && !in_ranges(cf->rows, index)))
		return 0;
	khash = row_key(&cf->lay, v, &cf->key);
	if (khash == 0)
		return 0; /* no key: nothing to remember */
	cf->e = xreallocarray(cf->e, cf->n + 1, sizeof(*cf->e));
	cf->texts = xreallocarray(cf->texts, 2 * (cf->n + 1), sizeof(*cf->texts));
	e = &cf->e[cf->n];
	cf->texts[2 * cf->n] = xstrndup(cf->key.data, cf->key.len);
	record_text(&cf->text, v, n);
	cf->texts[2 * cf->n + 1] = xstrndup(cf->text.data, cf->text.len);
	e->key = cf->texts[2 * cf->n];
	e->khash = khash; /* row_key's: keys_hash of the same text */
	e->row = cf->texts[2 * cf->n + 1];
	e->digest = row_digest(&cf->lay, v, &cf->scratch);
	e->stamp = cf->s->stamp;
	e->in_full = cf->in_full;
	e->header = NULL; /* set once the header's text is final */
	cf->n++;
	return 0;
}

/* confirm_text: the records of csv (rows listed, NULL: all) into the store */
/* put: rows into the store, and into the scope's table kept in memory (known.h) */
static int put(struct ledger *l, long long scope, const struct key_entry *e, size_t n)
{
	long long gen;

	if (keys_put(l, scope, e, n, &gen, known_proves(scope, e, n)) < 0)
		return -1;
	known_stored(scope, gen, e, n);
	return 0;
}

static int confirm_text(struct sift *s, struct ledger *l, size_t t, const char *csv, size_t len,
			const char *rows)
{
	struct confirm cf;
	struct buf err = BUF_INIT(4096);
	int rc;

	memset(&cf, 0, sizeof(cf));
	cf.s = s;
	cf.rows = rows;
	cf.in_full = s->f->mode == MODE_FULL;
	buf_init(&cf.header, BUF_NOCAP);
	buf_init(&cf.key, BUF_NOCAP);
	buf_init(&cf.scratch, BUF_NOCAP);
	buf_init(&cf.text, BUF_NOCAP);
	rc = each_record(csv, len, on_confirmed, &cf, &err);
	if (rc < 0)
		log_simple(LOG_ERROR, "keys_not_stored", "%s", buf_cstr(&err));
	for (size_t i = 0; i < cf.n; i++)
		cf.e[i].header = buf_cstr(&cf.header);
	if (rc == 0 && cf.n)
		rc = put(l, s->t[t].scope, cf.e, cf.n);
	for (size_t i = 0; i < 2 * cf.n; i++)
		free(cf.texts[i]);
	free(cf.texts);
	free(cf.e);
	if (cf.have_layout)
		layout_release(&cf.lay);
	buf_release(&cf.header);
	buf_release(&cf.key);
	buf_release(&cf.scratch);
	buf_release(&cf.text);
	buf_release(&err);
	return rc;
}

static double elapsed_ms(struct timespec t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

/* FLUSH_ROWS: confirmed rows held before they go to the store (memory, not order) */
#define FLUSH_ROWS 50000

int sift_confirmed(struct sift *s, struct ledger *l, size_t t, unsigned seq, const char *rows)
{
	struct sift_target *st = &s->t[t];
	unsigned long a, b;
	const char *p = rows;

	st->pending_seq = xreallocarray(st->pending_seq, st->npending + 1, sizeof(*st->pending_seq));
	st->pending = xreallocarray(st->pending, st->npending + 1, sizeof(*st->pending));
	st->pending_seq[st->npending] = seq;
	st->pending[st->npending++] = xstrdup(rows);
	while (*p) { /* count them: "1-40,42" is 41 */
		char *end;
		a = b = strtoul(p, &end, 10);
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		st->pending_rows += b >= a ? b - a + 1 : 0;
		if (*end != ',')
			break;
		p = end + 1;
	}
	return st->pending_rows >= FLUSH_ROWS ? sift_flush(s, l, t) : 0;
}

static int by_entry_hash(const void *a, const void *b)
{
	uint64_t x = ((const struct key_entry *)a)->khash;
	uint64_t y = ((const struct key_entry *)b)->khash;

	return x < y ? -1 : x > y;
}

int sift_flush(struct sift *s, struct ledger *l, size_t t)
{
	struct sift_target *st = &s->t[t];
	struct confirm cf;
	struct buf csv = BUF_INIT(BUF_NOCAP), err = BUF_INIT(4096);
	struct parcel pc;
	char **headers = NULL;
	struct timespec t0;
	double read_ms;
	int rc = 0;

	if (st->npending == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&pc, 0, sizeof(pc));
	pc.dir = st->dir;
	pc.name = s->name;
	headers = xcalloc(st->npending, sizeof(*headers));
	memset(&cf, 0, sizeof(cf));
	cf.s = s;
	cf.in_full = s->f->mode == MODE_FULL;
	buf_init(&cf.header, BUF_NOCAP);
	buf_init(&cf.key, BUF_NOCAP);
	buf_init(&cf.scratch, BUF_NOCAP);
	buf_init(&cf.text, BUF_NOCAP);
	for (size_t i = 0; i < st->npending && rc == 0; i++) {
		struct batch_origin *origin = NULL;
		size_t n, first = cf.n;
		if (parcel_read_batch(&pc, st->pending_seq[i], &csv, &origin, &n, &err) < 0) {
			log_simple(LOG_ERROR, "keys_not_stored", "%s", buf_cstr(&err));
			rc = -1;
		} else {
			cf.rows = st->pending[i];
			rc = each_record(csv.data, csv.len, on_confirmed, &cf, &err);
			headers[i] = xstrndup(cf.header.data, cf.header.len);
			for (size_t k = first; k < cf.n; k++)
				cf.e[k].header = headers[i];
			if (cf.have_layout)
				layout_release(&cf.lay);
			cf.have_layout = 0;
		}
		free(origin);
	}
	/* in the store's order: its pages are read and written once, in order */
	qsort(cf.e, cf.n, sizeof(*cf.e), by_entry_hash);
	read_ms = elapsed_ms(t0);
	if (rc == 0 && cf.n)
		rc = put(l, st->scope, cf.e, cf.n);
	log_simple(LOG_DEBUG, "keys_stored",
		   "target %s: %zu rows confirmed, %.0f ms (%.0f ms reading them back)", st->name,
		   cf.n, elapsed_ms(t0), read_ms);
	for (size_t i = 0; i < 2 * cf.n; i++)
		free(cf.texts[i]);
	free(cf.texts);
	free(cf.e);
	for (size_t i = 0; i < st->npending; i++) {
		free(headers[i]);
		free(st->pending[i]);
	}
	free(headers);
	st->npending = st->pending_rows = 0;
	buf_release(&cf.header);
	buf_release(&cf.key);
	buf_release(&cf.scratch);
	buf_release(&cf.text);
	buf_release(&csv);
	buf_release(&err);
	return rc;
}

int sift_target_done(struct sift *s, struct ledger *l, size_t t)
{
	struct buf data = BUF_INIT(BUF_NOCAP), err = BUF_INIT(4096);
	char *path;
	int rc = 0;

	if (sift_flush(s, l, t) < 0)
		return -1;
	if (s->f->mode == MODE_FULL) {
		path = xasprintf("%s/lacking", s->t[t].dir);
		if (parsed_read(path, &data, &err) != 0)
			rc = -1;
		else {
			struct timespec t0;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			const uint64_t *lacking = (const uint64_t *)(const void *)data.data;
			size_t n = data.len / sizeof(uint64_t);
			long long gen = 0;
			rc = keys_full_done(l, s->t[t].scope, s->stamp, s->f->absent_cols.n > 0,
					    lacking, n, &gen);
			known_marked(s->t[t].scope, gen, rc, lacking, n);
			rc = rc < 0 ? -1 : 0;
			log_simple(LOG_DEBUG, "keys_snapshot_marked",
				   "target %s: %zu keys the snapshot lacks, %.0f ms", s->t[t].name,
				   data.len / sizeof(uint64_t), elapsed_ms(t0));
		}
	} else {
		path = xasprintf("%s/touch.csv", s->t[t].dir);
		if (parsed_read(path, &data, &err) != 0)
			rc = -1;
		else if (data.len)
			rc = confirm_text(s, l, t, data.data, data.len, NULL);
	}
	if (rc < 0 && err.len)
		log_simple(LOG_ERROR, "keys_not_stored", "%s", buf_cstr(&err));
	free(path);
	buf_release(&data);
	buf_release(&err);
	return rc;
}

