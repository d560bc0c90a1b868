/*
 * sift - the decision (sift.h): a sequence's parsed batches read back by
 * their rows' sums (the parser child's, lib/rowsum.h), each row's key looked
 * up in every target's store, the lines of the rows to send cut into each
 * target's batches as they are, then the absent keys; sift.json last. What
 * Commerce confirms goes to the store in confirm.c.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/batch.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/rowsum.h"
#include "parse/parcel.h"
#include "queue/keys.h"
#include "sift/known.h"
#include "sift/records.h"
#include "sift/sift.h"
#include "queue/spool.h"
#include "util/crashpoint.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/publish.h"
#include "util/xalloc.h"

/* --- the sift of one file ----------------------------------------------- */

struct target_run {
	struct sift_target *st;
	const char *name; /* the file's: its batches are named after it */
	struct key_scope scope;
	struct known known;
	struct batch_writer w;
	struct buf touch; /* a delta's unchanged rows: their stamp is the file's, once through */
	struct buf *err;
	int failed;
};

/*
 * A row's look-up is asked for ahead of its turn: its index line AHEAD rows
 * before, its entry line half as far; by its turn both are in the cache.
 */
#define AHEAD 16

struct run {
	struct sift *s;
	struct ledger *l;
	const struct feed *f;
	struct target_run *tr;
	int have_header;
	struct buf scratch;
	unsigned long rows, superseded_everywhere;
	struct buf *err;
	int failed;
};

struct width {
	size_t header, fields, row; /* row: the first whose fields are not the header's */
};

static int count_fields(void *ctx, const struct strview *v, size_t n, size_t index)
{
	struct width *w = ctx;

	(void)v;
	if (index == 0)
		w->header = n;
	else if (n != w->header)
		w->fields = n, w->row = index;
	return w->row != 0;
}

/* put_batch: a target's batch, once it reads back as CSV with its header's fields in every
   row (its lines are the parser child's, copied as they are: one that lies stops here) */
static int put_batch(void *ctx, const struct batch *b)
{
	struct target_run *tr = ctx;
	struct width w = {0, 0, 0};

	if (each_record(b->csv, b->len, count_fields, &w, tr->err) < 0 || w.row) {
		if (w.row)
			buf_printf(tr->err, "a row of the parse has %zu fields, its header %zu",
				   w.fields, w.header);
		tr->failed = 1;
		return -1;
	}
	if (parcel_put_batch(tr->st->dir, tr->name, b, 1) < 0) {
		tr->failed = 1;
		return -1;
	}
	tr->st->n.batches = b->seq;
	return 0;
}

/* on_header: the parse's header, every target's batches' and touch.csv's */
static int on_header(void *ctx, const struct strview *v, size_t n, size_t index)
{
	struct run *r = ctx;

	if (index > 0)
		return 1;
	for (size_t t = 0; t < r->s->ntargets; t++)
		batch_set_header(&r->tr[t].w, v, n);
	r->have_header = 1;
	return 0;
}

/* decide: one row (its line in the parse's batch) for one target */
static void decide(struct run *r, struct target_run *tr, const struct batch_sum *sum,
		   const char *line, struct batch_origin origin, int *superseded)
{
	struct known_entry *e = sum->khash ? known_find(&tr->known, sum->khash) : NULL;
	const struct known_entry *trusted = e && !(e->flags & KNOWN_TWIN) ? e : NULL;
	long long stamp = sum->khash ? known_stamp_of(tr->scope.full_stamp,
						      tr->scope.complete_stamp, trusted)
				     : 0;

	if (e)
		e->flags |= KNOWN_SEEN;
	if (sum->khash && stamp > r->s->stamp) {
		tr->st->n.superseded++;
		return;
	}
	*superseded = 0;
	if (r->f->diff && trusted && trusted->digest == sum->digest) {
		tr->st->n.unchanged++;
		if (r->f->mode != MODE_FULL)
			buf_add(&tr->touch, line, sum->len);
		return;
	}
	tr->st->n.sent++;
	if (batch_stage_line(&tr->w, line, sum->len, origin) < 0 || batch_commit(&tr->w) < 0)
		r->failed = 1;
}

/* sift_rows: a batch's rows, by their sums (the parser's: lib/rowsum.h) */
static void sift_rows(struct run *r, const char *csv, const struct batch_sum *sum,
		      const struct batch_origin *origin, size_t rows)
{
	for (size_t i = 0; i < rows && !r->failed; i++) {
		int superseded = 1;
		for (size_t t = 0; t < r->s->ntargets; t++) {
			if (i + AHEAD < rows && sum[i + AHEAD].khash)
				known_prefetch_index(&r->tr[t].known, sum[i + AHEAD].khash);
			if (i + AHEAD / 2 < rows && sum[i + AHEAD / 2].khash)
				known_prefetch_entry(&r->tr[t].known, sum[i + AHEAD / 2].khash);
			decide(r, &r->tr[t], &sum[i], csv + sum[i].at, origin[i], &superseded);
		}
		r->superseded_everywhere += superseded && sum[i].khash;
	}
	r->rows += rows;
}

/* --- absent keys --------------------------------------------------------- */

struct absent_row {
	struct run *r;
	struct target_run *tr;
	struct batch_writer *w;
	size_t nkeycols;
};

static int on_key_record(void *ctx, const struct strview *v, size_t n, size_t index)
{
	struct absent_row *a = ctx;
	const struct feed *f = a->r->f;
	struct strview vals[LAYOUT_MAX_KEY + 64];
	struct batch_origin none = {0, 0};
	size_t k = 0;

	(void)index;
	for (size_t i = 0; i < a->nkeycols; i++)
		vals[k++] = i < n ? v[i] : sv_from("");
	for (size_t i = 0; i < f->absent_cols.n && k < sizeof(vals) / sizeof(vals[0]); i++)
		vals[k++] = sv_from(f->absent_vals.v[i]);
	if (batch_add(a->w, vals, k, none) < 0)
		a->r->failed = 1;
	return 0;
}

static void on_entry(void *ctx, const struct key_entry *e)
{
	struct absent_row *a = ctx;

	struct buf err = BUF_INIT(1024);

	/* the key's text is a record of its own (no header) */
	if (each_record(e->key, strlen(e->key), on_key_record, a, &err) < 0)
		a->r->failed = 1;
	buf_release(&err);
}

/* absent_header: the entity's key columns, then the absent.* columns */
static size_t absent_header(const struct feed *f, struct strview *names, size_t max)
{
	size_t n = 0;

	for (const struct column_rule *c = f->entity->columns; c->name && n < max; c++)
		if (c->flags & COL_KEY)
			names[n++] = sv_from(c->name);
	return n;
}

/*
 * absent: the keys of tr's store older than the file that it lacks, unless
 * their confirmed values are the absent values already; refused past
 * max_absent. The lacking keys go to sift.TARGET/lacking for the snapshot's
 * marks once through.
 */
static int absent(struct run *r, struct target_run *tr, int force, const char *partner)
{
	const struct feed *f = r->f;
	struct strview names[LAYOUT_MAX_KEY + 64], vals[LAYOUT_MAX_KEY + 64];
	size_t nkey = absent_header(f, names, LAYOUT_MAX_KEY), n = nkey;
	struct row_layout lay;
	uint64_t adigest;
	unsigned long known = 0, count = 0;
	uint64_t *absent_keys = NULL, *lacking = NULL;
	size_t nlacking = 0;
	struct batch_writer w;
	int rc = 0;

	for (size_t i = 0; i < f->absent_cols.n && n < sizeof(names) / sizeof(names[0]); i++) {
		names[n] = sv_from(f->absent_cols.v[i]);
		vals[n++] = sv_from(f->absent_vals.v[i]);
	}
	layout_init(&lay, f->entity, names, n);
	adigest = row_digest(&lay, vals, &r->scratch);
	layout_release(&lay);
	lacking = xreallocarray(NULL, tr->known.n + 1, sizeof(*lacking));
	absent_keys = xreallocarray(NULL, tr->known.n + 1, sizeof(*absent_keys));
	for (size_t i = 0; i < tr->known.n; i++) {
		const struct known_entry *e = &tr->known.v[i];
		if (e->flags & KNOWN_SEEN)
			continue;
		lacking[nlacking++] = e->khash;
		if (!f->absent_cols.n || (e->flags & KNOWN_TWIN))
			continue;
		known += e->digest != adigest;
		if (e->digest != adigest && known_stamp_of(tr->scope.full_stamp,
							   tr->scope.complete_stamp, e) < r->s->stamp)
			absent_keys[count++] = e->khash;
	}
	for (size_t i = 0; f->absent_cols.n && i < tr->known.n; i++) /* the seen ones count too */
		known += (tr->known.v[i].flags & KNOWN_SEEN) && tr->known.v[i].digest != adigest;
	if (count && !force && (double)count > f->max_absent * (double)known) {
		struct buf why = BUF_INIT(4096);
		buf_printf(&why,
			   "would set %.0f %% of the known keys (%lu of %lu) of %s's sequence '%s'%s%s "
			   "to ",
			   100.0 * (double)count / (double)known, count, known, partner, f->sequence,
			   r->s->ntargets > 1 ? " on " : "", r->s->ntargets > 1 ? tr->st->name : "");
		for (size_t i = 0; i < f->absent_cols.n; i++)
			buf_printf(&why, "%s%s = %s", i ? ", " : "", f->absent_cols.v[i],
				   f->absent_vals.v[i]);
		buf_printf(&why,
			   ", more than max_absent (%.4g %%): nothing was sent; "
			   "`dropgate redrop ID --force` applies it",
			   f->max_absent * 100);
		if (r->s->refused == NULL)
			r->s->refused = xstrdup(buf_cstr(&why));
		buf_release(&why);
		goto out;
	}
	tr->st->n.absent = count;
	if (count) {
		struct absent_row a = {r, tr, &w, nkey};
		batch_writer_init(&w, tr->w.max_rows, tr->w.max_bytes, put_batch, tr);
		w.seq = tr->st->n.batches;
		batch_set_header(&w, names, n);
		for (size_t i = 0; i < count && !r->failed; i++)
			if (keys_get(r->l, tr->scope.id, absent_keys[i], on_entry, &a) < 0)
				r->failed = 1;
		if (batch_finish(&w) < 0)
			r->failed = 1;
		batch_writer_release(&w);
	}
	{
		char *path = xasprintf("%s/lacking", tr->st->dir);
		if (publish_bytes(path, lacking, nlacking * sizeof(*lacking), 0640, PUBLISH_NOSYNC,
				  r->err) < 0)
			rc = -1;
		free(path);
	}
out:
	free(lacking);
	free(absent_keys);
	return rc;
}

/* --- sift.json: the decision, read back on a resume ----------------------- */

static char *sift_json_path(const char *outdir)
{
	return xasprintf("%s/sift.json", outdir);
}

static int save(const struct sift *s, const char *outdir, struct buf *err)
{
	json_t *o = json_object(), *ts = json_array();
	char *text, *path = sift_json_path(outdir);
	int rc;

	json_object_set_new(o, "stamp", json_integer(s->stamp));
	json_object_set_new(o, "stale", json_boolean(s->stale));
	json_object_set_new(o, "refused", s->refused ? json_string(s->refused) : json_null());
	for (size_t i = 0; i < s->ntargets; i++) {
		const struct sift_counts *n = &s->t[i].n;
		json_array_append_new(ts, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "name",
						    s->t[i].name, "sent", (json_int_t)n->sent,
						    "unchanged", (json_int_t)n->unchanged,
						    "superseded", (json_int_t)n->superseded,
						    "absent", (json_int_t)n->absent, "batches",
						    (json_int_t)n->batches));
	}
	json_object_set_new(o, "targets", ts);
	text = json_dumps(o, JSON_COMPACT);
	rc = publish_bytes(path, text, strlen(text), 0640, 0, err);
	free(text);
	free(path);
	json_decref(o);
	return rc;
}

/* load: sift.json of an earlier run; 1 when there is none, -1 when damaged */
int sift_saved(const char *outdir)
{
	char *path = sift_json_path(outdir);
	int saved = access(path, F_OK) == 0;

	free(path);
	return saved;
}

static int load(struct sift *s, const char *outdir, struct buf *err)
{
	char *path = sift_json_path(outdir);
	json_error_t je;
	json_t *o, *ts, *t;
	size_t i;
	struct stat st;

	if (stat(path, &st) < 0 && errno == ENOENT) {
		free(path);
		return 1;
	}
	o = json_load_file(path, 0, &je);
	if (o == NULL || !json_is_array(ts = json_object_get(o, "targets")) ||
	    json_array_size(ts) != s->ntargets) {
		buf_printf(err, "%s is damaged: %s", path, o ? "its targets differ" : je.text);
		json_decref(o);
		free(path);
		return -1;
	}
	s->stale = json_is_true(json_object_get(o, "stale"));
	if (json_string_value(json_object_get(o, "refused")))
		s->refused = xstrdup(json_string_value(json_object_get(o, "refused")));
	json_array_foreach(ts, i, t)
	{
		struct sift_counts *n = &s->t[i].n;
		n->sent = (unsigned long)json_integer_value(json_object_get(t, "sent"));
		n->unchanged = (unsigned long)json_integer_value(json_object_get(t, "unchanged"));
		n->superseded = (unsigned long)json_integer_value(json_object_get(t, "superseded"));
		n->absent = (unsigned long)json_integer_value(json_object_get(t, "absent"));
		n->batches = (unsigned long)json_integer_value(json_object_get(t, "batches"));
	}
	json_decref(o);
	free(path);
	return 0;
}

/* --- the stage ------------------------------------------------------------ */

static int sift_batches(struct run *r, const char *outdir, unsigned long batches)
{
	struct parcel pc;
	struct buf csv = BUF_INIT(BUF_NOCAP);
	int rc = 0;

	memset(&pc, 0, sizeof(pc));
	pc.dir = outdir;
	pc.name = r->s->name;
	for (unsigned seq = 1; seq <= batches && rc == 0 && !r->failed; seq++) {
		struct batch_origin *origin = NULL;
		struct batch_sum *sum = NULL;
		size_t rows = 0;
		buf_reset(&csv);
		if (parcel_read_batch(&pc, seq, &csv, &origin, &rows, r->err) < 0 ||
		    parcel_read_sums(&pc, seq, &csv, rows, &sum, r->err) < 0) {
			rc = -1;
		} else if (!r->have_header) {
			/* the header: the line before the first row (read_sums checked it is one) */
			rc = each_record(csv.data, sum[0].at, on_header, r, r->err);
			for (size_t t = 0; t < r->s->ntargets; t++)
				buf_add(&r->tr[t].touch, csv.data, sum[0].at);
		}
		if (rc == 0)
			sift_rows(r, csv.data, sum, origin, rows);
		free(sum);
		free(origin);
	}
	buf_release(&csv);
	return rc < 0 || r->failed ? -1 : 0;
}

static double since_ms(struct timespec t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static int run_sift(struct sift *s, struct ledger *l, const struct conf *c, const char *partner,
		    const char *outdir, unsigned long batches, int force, struct buf *err)
{
	struct run r;
	struct timespec t0;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.l = l;
	r.f = s->f;
	r.err = err;
	buf_init(&r.scratch, BUF_NOCAP);
	r.tr = xcalloc(s->ntargets, sizeof(*r.tr));
	for (size_t i = 0; i < s->ntargets; i++) {
		struct target_run *tr = &r.tr[i];
		const struct target *t = conf_target(c, s->t[i].name);
		tr->st = &s->t[i];
		tr->name = s->name;
		tr->err = err;
		buf_init(&tr->touch, BUF_NOCAP);
		batch_writer_init(&tr->w, t->batch_rows, t->batch_bytes, put_batch, tr);
		if (keys_scope(l, partner, s->f->sequence, s->t[i].name, &tr->scope) < 0 ||
		    known_take(&tr->known, l, tr->scope.id, tr->scope.gen) < 0) {
			buf_printf(err, "the key store cannot be read");
			goto out;
		}
		s->t[i].scope = tr->scope.id;
		remove_tree(s->t[i].dir);
		if (mkdirs(s->t[i].dir, 0750, err) < 0)
			goto out;
	}
	if (sift_batches(&r, outdir, batches) < 0)
		goto out;
	for (size_t i = 0; i < s->ntargets; i++)
		if (batch_finish(&r.tr[i].w) < 0 || r.tr[i].failed)
			goto out;
	for (size_t i = 0; i < s->ntargets && s->f->mode == MODE_FULL; i++)
		if (absent(&r, &r.tr[i], force, partner) < 0 || r.failed || r.tr[i].failed)
			goto out;
	/* the parse's batches are sifted: gone before the sync below writes them (never
	   synced: sift_saved), a file resumed before sift.json is parsed again */
	parcel_remove_batches(outdir, s->name, 0);
	for (size_t i = 0; i < s->ntargets; i++) {
		char *path = xasprintf("%s/touch.csv", s->t[i].dir);
		int bad = publish_bytes(path, r.tr[i].touch.data, r.tr[i].touch.len, 0640,
					PUBLISH_NOSYNC, err);
		free(path);
		if (bad < 0)
			goto out;
	}
	/* the per-target parcels, lacking and touch.csv durable at once; sift.json after */
	if (parcel_sync(outdir) < 0) {
		buf_printf(err, "cannot make the sifted batches durable: %s", strerror(errno));
		goto out;
	}
	s->stale = r.rows > 0 && r.superseded_everywhere == r.rows;
	for (size_t i = 0; i < s->ntargets; i++)
		s->stale = s->stale && s->t[i].n.absent == 0;
	if (s->refused)
		for (size_t i = 0; i < s->ntargets; i++) /* nothing is sent */
			parcel_remove_batches(s->t[i].dir, s->name, 0), s->t[i].n.batches = 0;
	crash_point("sift-before-save");
	rc = save(s, outdir, err);
	for (size_t i = 0; rc == 0 && i < s->ntargets; i++)
		log_simple(LOG_DEBUG, "sifted",
			   "%s target %s: %lu rows, %lu to send, %lu unchanged, %lu superseded, %lu "
			   "absent, %zu keys known; %.0f ms",
			   s->name, s->t[i].name, r.rows, s->t[i].n.sent, s->t[i].n.unchanged,
			   s->t[i].n.superseded, s->t[i].n.absent, r.tr[i].known.n, since_ms(t0));
out:
	for (size_t i = 0; i < s->ntargets; i++) {
		known_keep(&r.tr[i].known); /* for the scope's next file */
		batch_writer_release(&r.tr[i].w);
		buf_release(&r.tr[i].touch);
	}
	free(r.tr);
	buf_release(&r.scratch);
	return rc;
}

int sift_prepare(struct sift *s, struct ledger *l, const struct conf *c, const struct feed *f,
		 const char *partner, const char *outdir, const char *name, unsigned long batches,
		 long long stamp, int force, struct buf *err)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->f = f;
	s->name = name;
	s->stamp = stamp;
	s->ntargets = f->targets.n;
	s->t = xcalloc(s->ntargets, sizeof(*s->t));
	for (size_t i = 0; i < s->ntargets; i++) {
		s->t[i].name = xstrdup(f->targets.v[i]);
		s->t[i].dir = xasprintf("%s/sift.%s", outdir, f->targets.v[i]);
	}
	rc = load(s, outdir, err);
	if (rc == 1)
		return run_sift(s, l, c, partner, outdir, batches, force, err);
	for (size_t i = 0; rc == 0 && i < s->ntargets; i++) {
		struct key_scope scope;
		if (keys_scope(l, partner, f->sequence, s->t[i].name, &scope) < 0)
			rc = -1;
		s->t[i].scope = scope.id;
	}
	return rc;
}

void sift_release(struct sift *s)
{
	for (size_t i = 0; i < s->ntargets; i++) {
		free(s->t[i].name);
		free(s->t[i].dir);
		for (size_t k = 0; k < s->t[i].npending; k++)
			free(s->t[i].pending[k]);
		free(s->t[i].pending);
		free(s->t[i].pending_seq);
	}
	free(s->t);
	free(s->refused);
	memset(s, 0, sizeof(*s));
}

size_t sift_target(const struct sift *s, const char *name)
{
	size_t i = 0;

	while (i < s->ntargets && strcmp(s->t[i].name, name) != 0)
		i++;
	return i;
}
