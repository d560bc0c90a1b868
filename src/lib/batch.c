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
	buf_init(&w->data, max_bytes);
	buf_init(&w->row, max_bytes);
	w->origin = xreallocarray(NULL, max_rows, sizeof(*w->origin));
	w->flush = flush;
	w->ctx = ctx;
}

void batch_writer_release(struct batch_writer *w)
{
	buf_release(&w->header);
	buf_release(&w->data);
	buf_release(&w->row);
	free(w->origin);
	memset(w, 0, sizeof(*w));
}

static int format_line(struct buf *b, const struct strview *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((i && buf_addch(b, ',') < 0) || csv_append_field(b, v[i].p, v[i].len) < 0)
			return -1;
	return buf_addch(b, '\n');
}

void batch_set_header(struct batch_writer *w, const struct strview *names, size_t n)
{
	buf_reset(&w->header);
	format_line(&w->header, names, n);
}

static int flush_batch(struct batch_writer *w)
{
	struct batch b;
	int rc;

	if (w->rows == 0)
		return 0;
	b.seq = ++w->seq;
	b.csv = w->data.data;
	b.len = w->data.len;
	b.rows = w->rows;
	b.origin = w->origin;
	rc = w->flush(w->ctx, &b);
	buf_reset(&w->data);
	w->rows = 0;
	return rc < 0 ? -2 : 0;
}

int batch_stage(struct batch_writer *w, const struct strview *values, size_t n,
		struct batch_origin origin)
{
	buf_reset(&w->row);
	if (format_line(&w->row, values, n) < 0 || w->header.len + w->row.len > w->max_bytes) {
		buf_reset(&w->row);
		return -1;
	}
	w->staged = origin;
	return 0;
}

int batch_commit(struct batch_writer *w)
{
	if (w->rows == w->max_rows || w->data.len + w->row.len > w->max_bytes)
		if (flush_batch(w) < 0)
			return -2;
	if (w->rows == 0)
		buf_add(&w->data, w->header.data, w->header.len);
	buf_add(&w->data, w->row.data, w->row.len);
	w->origin[w->rows++] = w->staged;
	buf_reset(&w->row);
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
	return flush_batch(w);
}
