/*
 * parcel - what a parse leaves in its out dir, and the one place that knows
 * how it is laid out. For a file F:
 *
 *   F.batch-NNNN.csv        a Commerce CSV batch, in order from 0001
 *   .F.batch-NNNN.lines     its rows' partner lines (struct batch_origin each)
 *   .F.batch-NNNN.sums      with a sequence's sift to come: its rows' sums (struct
 *                           batch_sum each: key hash, digest, where the row's line is)
 *   .F.members              the archive's member names, each ended by a NUL
 *   F.result.json           the report: state, counts, messages (lib/report)
 *   F.errors.csv            the rejected rows (lib/report)
 *
 * (F cut to fit NAME_MAX as report_base says.) The writer is `check`'s
 * (parse/filecheck.c); the reader is `submit`'s and the daemon's, which
 * takes nothing the parser child wrote on trust: a batch or index that is a
 * link, or an index that is not a whole number of entries, is refused, and
 * the result is checked by lib/parsed.c. The submitter works on a parcel:
 * its batches, the partner's lines, and the report Commerce's answers go to.
 */
#ifndef DG_PARCEL_H
#define DG_PARCEL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/batch.h"
#include "lib/report.h"
#include "util/buf.h"
#include "util/strlist.h"

struct feed;
struct json_t;

struct parcel {
	const char *dir;  /* the out dir */
	const char *name; /* the file's name as dropped */
	const char *path; /* the file itself, for the log */
	const struct feed *feed;
	unsigned long batches, rows;
	struct strlist members; /* archive members, for "member:line" */
	struct report *report;	/* open: where Commerce's answers are told */
	unsigned long problems; /* told so far (the log shows the first ones) */
};

/* parcel_batch_path / parcel_lines_path / parcel_sums_path / parcel_members_path: fresh
   memory. */
char *parcel_batch_path(const char *dir, const char *name, unsigned seq);
char *parcel_lines_path(const char *dir, const char *name, unsigned seq);
char *parcel_sums_path(const char *dir, const char *name, unsigned seq);
char *parcel_members_path(const char *dir, const char *name);

/* parcel_put_batch: b, and with origins its line index and its sums (when it has them),
   each appearing whole (durable after parcel_sync). 0 or -1 (logged). */
int parcel_put_batch(const char *dir, const char *name, const struct batch *b, int origins);
/* parcel_put_members: the member names (durable after parcel_sync). 0 or -1 (logged). */
int parcel_put_members(const char *dir, const char *name, const struct strlist *members);

/*
 * parcel_sync: what was put in dir durable, at once: one syncfs for a
 * parse's hundreds of batches and indices (one fsync each cost a 1M-row file
 * 400 waits). The result (F.result.json, published last with its own fsync
 * and the directory's) says the parcel is whole. 0 or -1 (logged).
 */
int parcel_sync(const char *dir);

/* parcel_remove_batches: the batches (and indices) numbered above keep (0: all of them). */
void parcel_remove_batches(const char *dir, const char *name, unsigned long keep);

/* parcel_read_batch: batch seq's CSV and its line index (*origin, *rows; caller frees). */
int parcel_read_batch(const struct parcel *p, unsigned seq, struct buf *csv,
		      struct batch_origin **origin, size_t *rows, struct buf *err);
/* parcel_read_sums: batch seq's sums (*sum; caller frees), rows of them, their lines
   checked to be csv's rows back to back after its header. 0, or -1 with err. */
int parcel_read_sums(const struct parcel *p, unsigned seq, const struct buf *csv, size_t rows,
		     struct batch_sum **sum, struct buf *err);
/* parcel_result: F.result.json as checked by lib/parsed.c; NULL (err empty: none there). */
struct json_t *parcel_result(const char *dir, const char *name, struct buf *err);
/* parcel_load_members: .F.members into p->members. */
void parcel_load_members(struct parcel *p);

/* parcel_line: where a row came from, as the partner reads it ("12", "a.csv:12"). */
void parcel_line(const struct parcel *p, uint32_t member, unsigned long line, char *out,
		 size_t size);
/* parcel_partner_column: the partner's name for a Commerce column (the mapping's source). */
const char *parcel_partner_column(const struct parcel *p, const char *commerce);
/* parcel_problem: a row problem into the report (and the log, the first ones). */
void parcel_problem(struct parcel *p, const char *line, const char *column, const char *value,
		    size_t value_len, const char *message);
/* parcel_message: a message about the file into the report and the log. */
void parcel_message(struct parcel *p, const char *msg);
void parcel_release(struct parcel *p);

#endif
