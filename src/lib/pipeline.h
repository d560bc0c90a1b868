/*
 * pipeline - one partner file through decode, parse, map, validate and batch.
 *
 * The caller pushes the file's bytes in (pipeline_write), in blocks of any
 * size, and gets called back with Commerce CSV batches, row problems and
 * file-level messages; it decides where they go (files, a report, Commerce).
 * No I/O happens here. Memory is bounded by one batch, the decode and parse
 * buffers, and the duplicate-key index (keyset.h), whatever the file's size.
 *
 * What rejects a row and what rejects the file follows the contract's "Rows
 * and files": a row problem rejects the row; the file is rejected when it is
 * empty, its header is unusable (columns.h), it has a CSV syntax error or a
 * field over the cap, or when rejected rows pass what the feed's validation
 * allows (reject.h holds that rule and the outcome). Once the file is
 * rejected, no further batch is made.
 */
#ifndef DG_PIPELINE_H
#define DG_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/batch.h"
#include "lib/reject.h"
#include "util/strview.h"

struct feed;

struct pipeline_limits {
	size_t max_field;  /* bytes in one field */
	size_t max_row;	   /* bytes in one row */
	size_t max_fields; /* fields in one row */
	size_t batch_rows;
	size_t batch_bytes;
	int row_sums; /* each row's sum with its batch (lib/rowsum.h): a sequence's sift */
};

struct pipeline_sink {
	int (*batch)(void *ctx, const struct batch *b); /* -1: stop, I/O failed */
	void (*problem)(void *ctx, const struct problem *p);
	void (*message)(void *ctx, const char *msg); /* file-level, for the report */
	void *ctx;
};

struct pipeline_result {
	enum pipeline_state state;
	unsigned long rows, rows_ok, rows_rejected, batches;
};

struct pipeline;

void pipeline_default_limits(struct pipeline_limits *l);
struct pipeline *pipeline_new(const struct feed *feed, const struct pipeline_limits *lim,
			      const struct pipeline_sink *sink);
void pipeline_free(struct pipeline *p);
/* pipeline_hint_size: the file's size, so the key index is sized once. */
void pipeline_hint_size(struct pipeline *p, unsigned long long bytes);
/* pipeline_progress: bytes of the file read so far, when rows come another way (XML). */
void pipeline_progress(struct pipeline *p, unsigned long long bytes);
/* pipeline_write: CSV bytes. 0 go on, 1 the file is rejected whole (no need to read on). */
int pipeline_write(struct pipeline *p, const void *bytes, size_t n);
void pipeline_finish(struct pipeline *p, struct pipeline_result *res);

/*
 * Archives: each member is a part of the file, read from its own start
 * (encoding, header); rows keep counting, batches and the duplicate index
 * carry on. Problems carry the member's index, messages name the member.
 */
void pipeline_begin_member(struct pipeline *p, uint32_t member, const char *name);

/*
 * For rows that do not come from CSV text (XML records): the column names
 * once per file or member, then each row with its line. 0 go on, 1 the file
 * is rejected. pipeline_reject: an outside parser's reason to reject it all.
 */
int pipeline_put_header(struct pipeline *p, const struct strview *names, size_t n,
			unsigned long line);
int pipeline_put_row(struct pipeline *p, const struct strview *fields, size_t n,
		     unsigned long line);
void pipeline_reject(struct pipeline *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* pipeline_stopped: the file is rejected and reading it on is pointless. */
int pipeline_stopped(const struct pipeline *p);
/* pipeline_key_bytes: memory of the duplicate-key index, for the benchmark. */
size_t pipeline_key_bytes(const struct pipeline *p);
/* pipeline_profile_start: time the stages from now on (lib/profile.h); _get: their seconds. */
struct profile_result;
void pipeline_profile_start(struct pipeline *p);
void pipeline_profile_get(const struct pipeline *p, struct profile_result *r);

#endif
