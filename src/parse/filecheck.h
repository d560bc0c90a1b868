/*
 * filecheck - one partner file through the pipeline, with files around it:
 * reads the file, writes the Commerce batches to DIR (a parcel: its layout
 * is parse/parcel.h's), keeps the partner report open so that a later step
 * (submit) can add Commerce's answers, and writes the report at the end.
 * Shared by `check` and `submit`.
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
#include "parse/parcel.h"
#include "util/strlist.h"

struct conf;
struct feed;
struct progress;

struct filecheck {
	const char *path;
	const char *name; /* the file's name as dropped */
	const char *outdir;
	const struct feed *feed;
	int keep_origins;
	int intermediate; /* the daemon's parser child: its report is the daemon's to finish */
	enum { SHOW_NOTHING, SHOW_PROGRESS_FILE, SHOW_PROGRESS_BAR } show; /* ops/progress.h:
		outdir/.progress (for status), or a bar on stderr if it is a terminal */
	struct progress *progress; /* filecheck_run's own */
	struct report report;
	struct pipeline_result res;
	int io_failed;
	struct parcel parcel; /* what it leaves in outdir, with the report (parse/parcel.h) */
};

/* filecheck_limits: the pipeline's limits, batches sized for the smallest target. */
void filecheck_limits(const struct conf *c, const struct feed *f, struct pipeline_limits *lim);
/* filecheck_run: 0, or -1 when the file or DIR could not be read or written. */
int filecheck_run(struct filecheck *fc, const struct pipeline_limits *lim);
/* filecheck_message: a message about the file for the report and the log. */
void filecheck_message(struct filecheck *fc, const char *msg);
/* filecheck_release: what filecheck_run kept (the parcel's member names). */
void filecheck_release(struct filecheck *fc);
/*
 * filecheck_finish: write the report with state and the counts given (id < 0:
 * null), remove batches a rejected run must not leave, log the outcome.
 * 0 or -1 when the report could not be written.
 */
int filecheck_finish(struct filecheck *fc, long long id, const char *state,
		     unsigned long rows_rejected, unsigned long batches, int keep_batches);

#endif
