/*
 * filecheck - one partner file through the pipeline, with files around it:
 * reads the file, writes the Commerce batches to DIR as F.batch-NNNN.csv
 * (each appearing whole, by rename), keeps the partner report open so that a
 * later step (submit) can add Commerce's answers, and writes the report at
 * the end. Shared by `check` and `submit`.
 *
 * With keep_origins, each batch also gets .F.batch-NNNN.lines: its rows'
 * partner lines (struct batch_origin), so that Commerce's "Row N" can be
 * told as the partner's line after the file was read; and every file is
 * fsync'd before its rename, the directory by the report at the end: the
 * daemon resumes a file from them after a power loss.
 */
#ifndef DG_FILECHECK_H
#define DG_FILECHECK_H

#include "lib/batch.h"
#include "lib/pipeline.h"
#include "lib/report.h"
#include "util/strlist.h"

struct conf;
struct feed;

struct filecheck {
	const char *path;
	const char *name; /* the file's name as dropped */
	const char *outdir;
	const struct feed *feed;
	int keep_origins;
	struct report report;
	struct pipeline_result res;
	unsigned long problems;
	int io_failed;
	struct strlist members; /* archive members read, for "member:line" */
};

/* filecheck_limits: the pipeline's limits, batches sized for the smallest target. */
void filecheck_limits(const struct conf *c, const struct feed *f, struct pipeline_limits *lim);
/* filecheck_run: 0, or -1 when the file or DIR could not be read or written. */
int filecheck_run(struct filecheck *fc, const struct pipeline_limits *lim);
/* filecheck_problem: one more row problem for the report and the log. */
void filecheck_problem(struct filecheck *fc, const char *line, const char *column,
		       const char *value, size_t value_len, const char *message);
void filecheck_message(struct filecheck *fc, const char *msg);
/* filecheck_line: where a row came from, as the partner reads it ("12", "a.csv:12"). */
void filecheck_line(const struct filecheck *fc, uint32_t member, unsigned long line,
		    char *out, size_t size);
/* filecheck_release: what filecheck_run kept (the member names). */
void filecheck_release(struct filecheck *fc);
/* filecheck_batch_path: DIR/F.batch-NNNN.csv (or the .lines sidecar), fresh memory. */
char *filecheck_batch_path(const struct filecheck *fc, unsigned seq, int lines);
/* filecheck_members_path: DIR/.F.members, the archive members' names, fresh memory. */
char *filecheck_members_path(const struct filecheck *fc);
/*
 * filecheck_finish: write the report with state and the counts given (id < 0:
 * null), remove batches a rejected run must not leave, log the outcome.
 * 0 or -1 when the report could not be written.
 */
int filecheck_finish(struct filecheck *fc, long long id, const char *state,
		     unsigned long rows_rejected, unsigned long batches, int keep_batches);

#endif
