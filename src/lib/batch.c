#include "config.h"

#include <stdlib.h>

#include <string.h>

#include "lib/batch.h"
#include "util/xalloc.h"

int csv_append_field(struct buf *b, const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (v[i] == ',' || v[i] == '"' || v[i] == '\n' || v[i] == '\r')
			break;
	if (i == len)
		return buf_add(b, v, len);
	if (buf_addch(b, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		const char *q = memchr(v + i, '"', len - i);
		size_t n = q ? (size_t)(q - (v + i)) + 1 : len - i;
		if (buf_add(b, v + i, n) < 0 || (q && buf_addch(b, '"') < 0))
			return -1;
		i += n - 1;
	}
	return buf_addch(b, '"');
}

void batch_writer_init(struct batch_writer *w, size_t max_rows, size_t max_bytes,
		       batch_flush_fn flush, void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->max_rows = max_rows;
	w->max_bytes = max_bytes;
	buf_init(&w->header, max_bytes);
	/* a full batch and the staged row after it, which may not fit there */
	buf_init(&w->data, 2 * max_bytes);
	buf_init(&w->carry, max_bytes);
	w->origin = xreallocarray(NULL, max_rows, sizeof(*w->origin));
	w->flush = flush;
	w->ctx = ctx;
}

void batch_writer_release(struct batch_writer *w)
{
	buf_release(&w->header);
	buf_release(&w->data);
	buf_release(&w->carry);
	free(w->origin);
	free(w->sum);
	memset(w, 0, sizeof(*w));
}

/* the bytes that make a field quoted */
static const unsigned char quote_trigger[256] = {[','] = 1, ['"'] = 1, ['\n'] = 1, ['\r'] = 1};

/* put_field: v at o, RFC 4180; o has room for 2 * len + 2 bytes. Returns the end. */
static char *put_field(char *o, const char *v, size_t len)
{
	size_t i = 0;

	while (i < len && !quote_trigger[(unsigned char)v[i]])
		i++;
	if (i == len) {
		memcpy(o, v, len);
		return o + len;
	}
	*o++ = '"';
	for (i = 0; i < len; i++) {
		*o++ = v[i];
		if (v[i] == '"')
			*o++ = '"';
	}
	*o++ = '"';
	return o;
}

/* format_line: one CSV line at the end of b; -1 when it would pass b's cap. */
static int format_line(struct buf *b, const struct strview *v, size_t n)
{
	size_t need = 1;
	char *o;

	for (size_t i = 0; i < n; i++)
		need += 2 * v[i].len + 3;
	if (buf_reserve(b, need) < 0) {
		/* the worst case does not fit: field by field, to the byte */
		for (size_t i = 0; i < n; i++)
			if ((i && buf_addch(b, ',') < 0) ||
			    csv_append_field(b, v[i].p, v[i].len) < 0)
				return -1;
		return buf_addch(b, '\n');
	}
	o = b->data + b->len;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*o++ = ',';
		o = put_field(o, v[i].p, v[i].len);
	}
	*o++ = '\n';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

void batch_set_header(struct batch_writer *w, const struct strview *names, size_t n)
{
	buf_reset(&w->header);
	format_line(&w->header, names, n);
}

void batch_keep_sums(struct batch_writer *w)
{
	if (w->sum == NULL)
		w->sum = xreallocarray(NULL, w->max_rows, sizeof(*w->sum));
}

void batch_sum_staged(struct batch_writer *w, uint64_t khash, uint64_t digest)
{
	w->staged_sum.khash = khash;
	w->staged_sum.digest = digest;
}

static int flush_batch(struct batch_writer *w)
{
	struct batch b;
	int rc;

	if (w->rows == 0)
		return 0;
	b.seq = ++w->seq;
	b.csv = w->data.data;
	b.len = w->has_staged ? w->staged_at : w->data.len;
	b.rows = w->rows;
	b.origin = w->origin;
	b.sum = w->sum;
	rc = w->flush(w->ctx, &b);
	w->rows = 0;
	return rc < 0 ? -2 : 0;
}

/* drop_staged: a row staged and not committed is forgotten. */
static void drop_staged(struct batch_writer *w)
{
	if (w->has_staged) {
		buf_truncate(&w->data, w->staged_at);
		w->has_staged = 0;
	}
}

/* stage_at: where the next staged row starts (the staged one dropped, the header first) */
static size_t stage_at(struct batch_writer *w)
{
	drop_staged(w);
	if (w->data.len == 0)
		buf_add(&w->data, w->header.data, w->header.len);
	return w->data.len;
}

/* staged: the row at `at` to the data's end, unless it alone is over max_bytes */
static int staged(struct batch_writer *w, size_t at, int ok, struct batch_origin origin)
{
	if (!ok || w->header.len + (w->data.len - at) > w->max_bytes) {
		buf_truncate(&w->data, at);
		return -1;
	}
	w->staged_at = at;
	w->has_staged = 1;
	w->staged = origin;
	w->staged_sum.khash = w->staged_sum.digest = 0;
	return 0;
}

int batch_stage(struct batch_writer *w, const struct strview *values, size_t n,
		struct batch_origin origin)
{
	size_t at = stage_at(w);

	return staged(w, at, format_line(&w->data, values, n) == 0, origin);
}

int batch_stage_line(struct batch_writer *w, const char *line, size_t len,
		     struct batch_origin origin)
{
	size_t at = stage_at(w);

	return staged(w, at,
		      w->header.len + len <= w->max_bytes && buf_add(&w->data, line, len) == 0,
		      origin);
}

int batch_commit(struct batch_writer *w)
{
	if (!w->has_staged)
		return 0;
	if (w->rows == w->max_rows || w->data.len > w->max_bytes) {
		/* the batch is full without this row: hand it on, the row starts the next */
		int rc;

		buf_reset(&w->carry);
		buf_add(&w->carry, w->data.data + w->staged_at, w->data.len - w->staged_at);
		rc = flush_batch(w);
		w->has_staged = 0;
		buf_reset(&w->data);
		if (rc < 0)
			return -2;
		buf_add(&w->data, w->header.data, w->header.len);
		buf_add(&w->data, w->carry.data, w->carry.len);
		w->staged_at = w->header.len;
	}
	if (w->sum) {
		struct batch_sum *s = &w->sum[w->rows];
		*s = w->staged_sum;
		s->at = (uint32_t)w->staged_at;
		s->len = (uint32_t)(w->data.len - w->staged_at);
	}
	w->origin[w->rows++] = w->staged;
	w->has_staged = 0;
	return 0;
}

int batch_add(struct batch_writer *w, const struct strview *values, size_t n,
	      struct batch_origin origin)
{
	if (batch_stage(w, values, n, origin) < 0)
		return -1;
	return batch_commit(w);
}

int batch_finish(struct batch_writer *w)
{
	int rc;

	drop_staged(w);
	rc = flush_batch(w);
	buf_reset(&w->data);
	return rc;
}
