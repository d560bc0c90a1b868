#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/columns.h"
#include "lib/conf.h"
#include "lib/csvin.h"
#include "lib/decode.h"
#include "lib/dupkeys.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "lib/pipeline.h"
#include "lib/profile.h"
#include "lib/reject.h"
#include "lib/rowsum.h"
#include "util/xalloc.h"

struct pipeline {
	const struct feed *feed;
	struct pipeline_limits lim;
	struct pipeline_sink sink;
	struct decoder *dec;
	struct csvin *csv; /* NULL for XML: rows come through pipeline_put_row */
	struct csvin_opts copts;
	struct batch_writer bw;
	struct dupkeys dup;
	struct map_row mrow;
	struct reject rj;      /* problems, messages, and whether the file is rejected */
	struct columns cols;   /* the header, and the Commerce columns made of it */
	struct row_layout lay; /* a sequence's batches' header: its keys, the rows' sums */
	int have_lay;
	struct buf sum; /* their scratch */
	struct buf msg, tmp;

	int have_header;

	unsigned long long total_bytes, fed_bytes;
	int sized;
	int failed;  /* a batch could not be written */
	int stopped; /* reading ended early: header, syntax or encoding */
	unsigned long rows, rows_ok;
	/* the row waiting for its duplicate check (stage_row) */
	int pending, pend_staged;
	int dec_pending; /* the decoder holds invalid bytes not yet told */
	unsigned long pend_line;
	uint64_t pend_hash;
	struct profile prof; /* off unless pipeline_profile_start */
};

void pipeline_default_limits(struct pipeline_limits *l)
{
	l->max_field = 1024 * 1024;
	l->max_row = 4 * 1024 * 1024;
	l->max_fields = 1024;
	l->batch_rows = 5000;
	l->batch_bytes = 4 * 1024 * 1024;
	l->row_sums = 0;
}

static int on_batch(void *ctx, const struct batch *b)
{
	struct pipeline *p = ctx;
	uint64_t t0 = p->prof.on ? profile_now() : 0;
	int rc = p->sink.batch(p->sink.ctx, b);

	if (p->prof.on)
		p->prof.flush_ns += profile_now() - t0;
	if (rc < 0) {
		p->failed = 1;
		return -1;
	}
	return 0;
}

/* --- the header ------------------------------------------------------- */

static int take_header(struct pipeline *p, const struct csvin_row *row)
{
	int rc = columns_take_header(&p->cols, p->feed, row->fields, row->n, row->line,
				     decoder_encoding(p->dec), &p->rj);

	if (rc >= 0)
		dupkeys_header(&p->dup, &p->cols);

	if (rc == 1) { /* the first header: the batches' */
		struct strview *names = xcalloc(p->cols.nout, sizeof(*names));
		for (size_t i = 0; i < p->cols.nout; i++)
			names[i] = sv_from(p->cols.out_names[i]);
		batch_set_header(&p->bw, names, p->cols.nout);
		if (p->feed->sequence && !p->have_lay) {
			layout_init(&p->lay, p->feed->entity, names, p->cols.nout);
			p->have_lay = 1;
			if (p->lim.row_sums)
				batch_keep_sums(&p->bw);
		}
		free(names);
	}
	return rc < 0 ? -1 : 0;
}

/* --- rows --------------------------------------------------------------- */

struct map_ctx {
	struct pipeline *p;
	const struct csvin_row *row;
};

static void settle_pending(struct pipeline *p);

static void on_map_problem(void *ctx, size_t column, const char *source, struct strview value,
			   const char *message)
{
	struct map_ctx *m = ctx;

	settle_pending(m->p); /* the row before is told first */
	reject_problem(&m->p->rj, m->row->line, source ? source : m->p->cols.out_names[column],
		       value, message);
}

static void encoding_problems(struct pipeline *p, const struct csvin_row *row)
{
	size_t n;
	const struct decode_error *e = decoder_errors(p->dec, &n);
	size_t taken = 0;

	if (n && e[0].line <= row->last_line)
		settle_pending(p); /* the row before is told first */
	while (taken < n && e[taken].line <= row->last_line) {
		const struct decode_error *d = &e[taken++];
		size_t field = 0;
		struct strview v = {"", 0};

		if (d->line < row->line)
			continue; /* on a line that held no row: cannot happen with libcsv */
		for (size_t i = 0; i < row->n; i++)
			if (row->fields[i].len >= 3 &&
			    memmem(row->fields[i].p, row->fields[i].len, "\xef\xbf\xbd", 3)) {
				field = i;
				v = row->fields[i];
				break;
			}
		/* a run of bad bytes (a UTF-8 sequence, say) is one problem */
		buf_reset(&p->msg);
		buf_printf(&p->msg, "0x%02X", d->value);
		{
			size_t run = 1;
			while (taken < n && e[taken].line == d->line &&
			       e[taken].byte == d->byte + run && run < 16) {
				buf_printf(&p->msg, " 0x%02X", e[taken].value);
				taken++, run++;
			}
			buf_reset(&p->tmp);
			buf_printf(&p->tmp, "%s %s at %s %lu of the %s %s not valid %s",
				   run > 1 ? "bytes" : "byte", buf_cstr(&p->msg),
				   d->in_file ? "offset" : "byte", d->byte,
				   d->in_file ? "file" : "line", run > 1 ? "are" : "is",
				   decoder_encoding(p->dec));
		}
		reject_problem(&p->rj, d->line, columns_partner_name(&p->cols, field), v,
			       buf_cstr(&p->tmp));
	}
	decoder_take(p->dec, taken);
	p->dec_pending = n > taken;
}

static void check_values(struct pipeline *p, const struct csvin_row *row,
			 const struct strview *vals)
{
	const struct columns *cols = &p->cols;

	buf_reset(&p->msg); /* and again after each problem: a check adds only when it fails */
	for (size_t i = 0; i < cols->nout; i++) {
		const struct column_rule *r = cols->rules[i];
		struct strview shown;

		if (r == NULL || entity_check_value(r, vals[i].p, vals[i].len, &p->msg) == 0)
			continue;
		shown = cols->out_src[i] >= 0 && (size_t)cols->out_src[i] < row->n
			    ? row->fields[cols->out_src[i]]
			    : vals[i];
		settle_pending(p); /* the row before is told first */
		reject_problem(&p->rj, row->line,
			       cols->out_source[i] ? cols->out_source[i] : cols->out_names[i],
			       shown, buf_cstr(&p->msg));
		buf_reset(&p->msg);
	}
}

static void start_parsers(struct pipeline *p);
static int on_row(void *ctx, const struct csvin_row *row);

/*
 * A row that passed its own checks waits as "pending" while the next row is
 * parsed, mapped and checked: its key's slot in the index is prefetched
 * meanwhile, which hides the one cache miss a row costs. settle_pending then
 * asks the index whether the key was seen, and commits the row to its batch
 * or rejects it. It runs before the next row tells any problem and before it
 * is staged, so that problems and batches keep the file's order.
 */
static void stage_row(struct pipeline *p, const struct csvin_row *row, const struct strview *vals)
{
	const struct columns *cols = &p->cols;

	p->pend_line = row->line;
	p->pend_staged = 0;
	p->pend_hash = dupkeys_hash(&p->dup, cols, p->have_lay ? &p->lay : NULL, row->fields,
				    row->n, vals, &p->sum);
	profile_mark(&p->prof, PROF_KEYS);
	if (!p->rj.file_rejected && !p->failed) {
		struct batch_origin o = {(uint32_t)row->line, p->rj.member};
		if (batch_stage(&p->bw, vals, cols->nout, o) < 0) {
			buf_reset(&p->tmp);
			buf_printf(&p->tmp,
				   "the row is larger than batch_bytes (%zu bytes) on its own",
				   p->lim.batch_bytes);
			reject_problem(&p->rj, row->line, "", (struct strview){"", 0},
				       buf_cstr(&p->tmp));
			reject_row(&p->rj);
			return;
		}
		p->pend_staged = 1;
		if (p->lim.row_sums && p->have_lay)
			batch_sum_staged(&p->bw, p->pend_hash,
					 p->feed->diff ? row_digest(&p->lay, vals, &p->sum) : 0);
	}
	profile_mark(&p->prof, PROF_BATCH);
	p->pending = 1;
}

static void settle_pending(struct pipeline *p)
{
	const struct columns *cols = &p->cols;
	int row_problems = p->rj.row_problems; /* the next row's, when it is in hand */
	const char *dup = NULL;

	if (!p->pending)
		return;
	p->pending = 0;
	if (p->pend_hash)
		dup = dupkeys_insert(&p->dup, p->pend_hash, p->pend_line, cols);
	profile_mark(&p->prof, PROF_KEYS);
	if (dup) {
		struct strview shown = {buf_cstr(&p->dup.shown), p->dup.shown.len};
		reject_problem(&p->rj, p->pend_line, p->dup.column, shown, dup);
		reject_row(&p->rj);
		p->rj.row_problems = row_problems;
		return;
	}
	p->rows_ok++;
	if (p->pend_staged && !p->rj.file_rejected && !p->failed && batch_commit(&p->bw) < 0)
		p->failed = 1;
	profile_mark(&p->prof, PROF_BATCH);
}

/* take_row: one row after the header, stage by stage (profile marks between them). */
static int take_row(struct pipeline *p, const struct csvin_row *row)
{
	const struct strview *vals;

	if (p->failed)
		return 1;
	dupkeys_line(&p->dup, row->last_line);
	p->rows++;
	p->rj.row_problems = 0;
	if (p->dec_pending)
		encoding_problems(p, row);
	if (row->too_long) {
		settle_pending(p);
		reject_problem(&p->rj, row->line, "", (struct strview){"", 0},
			       "the row is longer than the limit and was not read");
	} else if (row->n != p->cols.ncols) {
		settle_pending(p);
		buf_reset(&p->tmp);
		buf_printf(&p->tmp, "the row has %zu field%s; the header has %zu", row->n,
			   row->n == 1 ? "" : "s", p->cols.ncols);
		reject_problem(&p->rj, row->line, "", (struct strview){"", 0}, buf_cstr(&p->tmp));
	}
	profile_mark(&p->prof, PROF_RULES);
	if (p->rj.row_problems) {
		settle_pending(p);
		reject_row(&p->rj);
		return 0;
	}
	if (p->feed->map) {
		struct map_ctx m = {p, row};
		int bad = mapping_apply(p->feed->map, p->cols.srcidx, row->fields, row->n, &p->mrow,
					on_map_problem, &m);
		profile_mark(&p->prof, PROF_MAP);
		if (bad > 0) {
			settle_pending(p);
			reject_row(&p->rj);
			return 0;
		}
		vals = p->mrow.values;
	} else {
		vals = row->fields;
	}
	check_values(p, row, vals);
	profile_mark(&p->prof, PROF_RULES);
	if (p->rj.row_problems) {
		settle_pending(p);
		reject_row(&p->rj);
		return 0;
	}
	settle_pending(p); /* the row before, late: its slot has had time to arrive */
	if (p->failed)
		return 1;
	stage_row(p, row, vals);
	return 0;
}

static int on_row(void *ctx, const struct csvin_row *row)
{
	struct pipeline *p = ctx;
	int rc;

	if (!p->have_header) {
		p->have_header = 1;
		if (take_header(p, row) < 0) {
			reject_file(&p->rj);
			p->stopped = 1;
			return 1;
		}
		if (p->feed->header)
			return 0;
	}
	profile_row_begin(&p->prof);
	rc = take_row(p, row);
	profile_row_end(&p->prof);
	return rc;
}

/* --- the whole file ----------------------------------------------------- */

struct pipeline *pipeline_new(const struct feed *feed, const struct pipeline_limits *lim,
			      const struct pipeline_sink *sink)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));

	p->feed = feed;
	p->lim = *lim;
	p->sink = *sink;
	reject_init(&p->rj, sink->problem, sink->message, sink->ctx,
		    feed->validation == VALIDATION_STOP, feed->allowed_errors);
	p->copts.delimiter = feed->delimiter;
	p->copts.quote = feed->quote;
	p->copts.strict = feed->strict;
	p->copts.max_field = lim->max_field;
	p->copts.max_row = lim->max_row;
	p->copts.max_fields = lim->max_fields;
	start_parsers(p);
	batch_writer_init(&p->bw, lim->batch_rows, lim->batch_bytes, on_batch, p);
	dupkeys_init(&p->dup, lim->max_row);
	map_row_init(&p->mrow, lim->max_field);
	buf_init(&p->msg, 64 * 1024);
	buf_init(&p->tmp, 64 * 1024);
	buf_init(&p->sum, BUF_NOCAP);
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (p == NULL)
		return;
	decoder_free(p->dec);
	csvin_free(p->csv);
	batch_writer_release(&p->bw);
	dupkeys_release(&p->dup);
	map_row_release(&p->mrow);
	buf_release(&p->msg);
	buf_release(&p->tmp);
	buf_release(&p->sum);
	columns_release(&p->cols);
	if (p->have_lay)
		layout_release(&p->lay);
	reject_release(&p->rj);
	free(p);
}

void pipeline_hint_size(struct pipeline *p, unsigned long long bytes)
{
	p->total_bytes = bytes;
}

size_t pipeline_key_bytes(const struct pipeline *p)
{
	return dupkeys_bytes(&p->dup);
}

void pipeline_profile_start(struct pipeline *p)
{
	profile_start(&p->prof);
}

void pipeline_profile_get(const struct pipeline *p, struct profile_result *r)
{
	profile_result(&p->prof, r);
}

static int parse_error(struct pipeline *p)
{
	const struct csvin_error *e = csvin_error(p->csv);

	buf_reset(&p->msg);
	csvin_describe(p->csv, &p->msg);
	if (e->kind == CSVIN_SYNTAX)
		reject_message(&p->rj, "line %lu, column %lu (field %zu%s%s%s): %s", e->line,
			       e->column, e->field + 1, e->field < p->cols.ncols ? ", '" : "",
			       e->field < p->cols.ncols ? p->cols.header[e->field] : "",
			       e->field < p->cols.ncols ? "'" : "", buf_cstr(&p->msg));
	else
		reject_message(&p->rj, "line %lu (field %zu%s%s%s): %s", e->row_line, e->field + 1,
			       e->field < p->cols.ncols ? ", '" : "",
			       e->field < p->cols.ncols ? p->cols.header[e->field] : "",
			       e->field < p->cols.ncols ? "'" : "", buf_cstr(&p->msg));
	reject_file(&p->rj);
	p->stopped = 1;
	return 1;
}

/* note_decode_errors: whether rows must look for invalid bytes of theirs. */
static void note_decode_errors(struct pipeline *p)
{
	size_t n;

	decoder_errors(p->dec, &n);
	p->dec_pending = n > 0;
}

static int feed_text(struct pipeline *p, const char *text, size_t n)
{
	uint64_t t0 = 0, f0 = 0;
	int rc;

	if (p->prof.on)
		t0 = profile_now(), f0 = p->prof.flush_ns;
	rc = csvin_feed(p->csv, text, n);
	if (p->prof.on) {
		p->prof.feed_ns += profile_now() - t0;
		p->prof.feed_flush_ns += p->prof.flush_ns - f0;
	}

	if (rc < 0)
		return parse_error(p);
	return p->failed || p->stopped;
}

int pipeline_write(struct pipeline *p, const void *bytes, size_t n)
{
	const char *out;
	size_t outlen;

	uint64_t t0 = p->prof.on ? profile_now() : 0;
	int rc;

	if (p->stopped || p->failed)
		return 1;
	rc = decoder_run(p->dec, bytes, n, 0, &out, &outlen);
	if (p->prof.on)
		p->prof.decode_ns += profile_now() - t0;
	note_decode_errors(p);
	if (rc < 0) {
		reject_message(&p->rj, "%s", decoder_message(p->dec));
		reject_file(&p->rj);
		p->stopped = 1;
		return 1;
	}
	if (feed_text(p, out, outlen))
		return 1;
	pipeline_progress(p, p->fed_bytes + n);
	return 0;
}

void pipeline_progress(struct pipeline *p, unsigned long long bytes)
{
	p->fed_bytes = bytes;
	if (!p->sized && p->total_bytes && p->rows > 0 && bytes > 0) {
		/* size the key index once, from the bytes per row so far */
		double est = (double)p->total_bytes * (double)p->rows / (double)bytes;
		dupkeys_reserve(&p->dup, (size_t)(est * 1.02) + 16);
		p->sized = 1;
	}
}

/* finish_member: the end of one file or archive member. */
static void finish_member(struct pipeline *p)
{
	const char *out;
	size_t outlen;

	if (!p->stopped && !p->failed && p->csv) {
		if (decoder_run(p->dec, "", 0, 1, &out, &outlen) < 0) {
			reject_message(&p->rj, "%s", decoder_message(p->dec));
			reject_file(&p->rj);
			p->stopped = 1;
		} else if (note_decode_errors(p), !feed_text(p, out, outlen)) {
			int rc = csvin_finish(p->csv);
			if (rc < 0)
				parse_error(p);
		}
	}
	settle_pending(p);
	if (!p->have_header && !p->stopped) {
		reject_message(&p->rj, "the file is empty: there is no header line");
		reject_file(&p->rj);
		p->stopped = 1;
	}
}

static void start_parsers(struct pipeline *p)
{
	decoder_free(p->dec);
	csvin_free(p->csv);
	p->dec = decoder_new(p->feed->encoding);
	if (p->dec == NULL)
		abort(); /* conf_load checked the encoding */
	p->csv = p->feed->format == FORMAT_CSV ? csvin_new(&p->copts, on_row, p) : NULL;
}

void pipeline_begin_member(struct pipeline *p, uint32_t member, const char *name)
{
	if (p->rj.member_name) {
		finish_member(p);
		start_parsers(p);
		p->have_header = 0;
	}
	dupkeys_member(&p->dup, name);
	reject_member(&p->rj, member, name);
}

int pipeline_put_header(struct pipeline *p, const struct strview *names, size_t n,
			unsigned long line)
{
	struct csvin_row row = {names, n, line, line, 0};

	if (p->stopped || p->failed)
		return 1;
	p->have_header = 1;
	if (take_header(p, &row) < 0) {
		reject_file(&p->rj);
		p->stopped = 1;
		return 1;
	}
	return 0;
}

int pipeline_put_row(struct pipeline *p, const struct strview *fields, size_t n, unsigned long line)
{
	struct csvin_row row = {fields, n, line, line, 0};

	if (p->stopped || p->failed)
		return 1;
	return on_row(p, &row) || p->stopped || p->failed;
}

void pipeline_reject(struct pipeline *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reject_vmessage(&p->rj, fmt, ap);
	va_end(ap);
	reject_file(&p->rj);
	p->stopped = 1;
	p->have_header = 1; /* said why already: not "empty" too */
}

int pipeline_stopped(const struct pipeline *p)
{
	return p->stopped || p->failed;
}

void pipeline_finish(struct pipeline *p, struct pipeline_result *res)
{
	finish_member(p);
	if (!p->rj.file_rejected && !p->failed && batch_finish(&p->bw) < 0)
		p->failed = 1;
	res->rows = p->rows;
	res->rows_ok = p->rows_ok;
	res->rows_rejected = p->rj.rows_rejected;
	res->batches = p->bw.seq;
	res->state = reject_outcome(p->failed, p->rj.file_rejected, p->rj.rows_rejected);
	if (res->state == PIPE_VALID && p->rows == 0 && p->have_header)
		reject_message(&p->rj,
			       "the file has a header and no rows: there is nothing to import");
}
