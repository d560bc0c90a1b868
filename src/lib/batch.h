/*
 * batch - Commerce rows to Commerce CSV, cut into batches.
 *
 * Output is comma-separated UTF-8 with RFC 4180 quoting (a field holding a
 * comma, quote, CR or LF is quoted, quotes doubled) and LF line ends. Every
 * batch starts with the header and holds at most max_rows rows and max_bytes
 * bytes (header included). Each batch remembers, for each of its rows, where
 * in the partner's file the row came from, so that Commerce's "Row N: ..."
 * can be told to the partner as their own line.
 *
 * A full batch is handed to the flush callback and then reused: memory is one
 * batch, whatever the file's size. Rows are formatted straight into it, at
 * its end, and committed where they are: no row is copied.
 */
#ifndef DG_BATCH_H
#define DG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/strview.h"

struct batch_origin {
	uint32_t line;   /* the partner's line where the row starts */
	uint32_t member; /* archive member index, 0 outside archives */
};

/*
 * A row's sum (lib/rowsum.h), kept with the batch when the writer is asked
 * to (batch_keep_sums): a sequence's sift reads these, and the text of only
 * the rows it sends (at, len: the row's line in csv, its LF included).
 */
struct batch_sum {
	uint64_t khash;	 /* 0: the row has no key */
	uint64_t digest; /* of its values; 0 when the feed has no diff */
	uint32_t at, len;
};

struct batch {
	unsigned seq; /* 1-based */
	const char *csv;
	size_t len;
	size_t rows;
	const struct batch_origin *origin; /* rows entries */
	const struct batch_sum *sum;	   /* rows entries, or NULL */
};

typedef int (*batch_flush_fn)(void *ctx, const struct batch *b);

struct batch_writer {
	size_t max_rows, max_bytes;
	struct buf header;
	struct buf data;      /* the batch so far, then the staged row, formatted in place */
	struct buf carry;     /* a staged row on its way to the next batch */
	size_t staged_at;     /* where the staged row starts in data */
	int has_staged;
	struct batch_origin staged;
	struct batch_origin *origin;
	struct batch_sum staged_sum;
	struct batch_sum *sum; /* batch_keep_sums */
	size_t rows;
	unsigned seq;
	batch_flush_fn flush;
	void *ctx;
};

void batch_writer_init(struct batch_writer *w, size_t max_rows, size_t max_bytes,
		       batch_flush_fn flush, void *ctx);
void batch_writer_release(struct batch_writer *w);
void batch_set_header(struct batch_writer *w, const struct strview *names, size_t n);
/* batch_keep_sums: every row committed from now on has a sum (batch_sum_staged's). */
void batch_keep_sums(struct batch_writer *w);
/* batch_sum_staged: the staged row's key hash and digest (0, 0 until set). */
void batch_sum_staged(struct batch_writer *w, uint64_t khash, uint64_t digest);
/*
 * batch_add: append one row. 0; -1 when the row alone (with the header) is
 * larger than max_bytes; -2 when the flush callback failed.
 */
int batch_add(struct batch_writer *w, const struct strview *values, size_t n,
	      struct batch_origin origin);
/*
 * The same in two steps: batch_stage formats a row (-1 when it alone is
 * larger than max_bytes), batch_commit appends the staged row (0 or -2),
 * batch_add does both. A staged row that is not committed is dropped by the
 * next batch_stage.
 */
int batch_stage(struct batch_writer *w, const struct strview *values, size_t n,
		struct batch_origin origin);
int batch_commit(struct batch_writer *w);
/* batch_stage_line: a row already made a line (one of our batches', LF included), staged
   as it is. -1 when it alone is larger than max_bytes. */
int batch_stage_line(struct batch_writer *w, const char *line, size_t len,
		     struct batch_origin origin);
/* batch_finish: flush the last, partial batch. 0 or -2. */
int batch_finish(struct batch_writer *w);
/* csv_append_field: one field with RFC 4180 quoting. */
int csv_append_field(struct buf *b, const char *v, size_t len);

#endif
