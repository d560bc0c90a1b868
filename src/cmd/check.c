/*
 * dropgate check --feed NAME [--out DIR] FILE...
 *
 * Offline: each file goes through the pipeline exactly as the daemon would
 * take it; the Commerce CSV batches (F.batch-0001.csv, ...) and the partner
 * report (F.result.json, F.errors.csv) are written to DIR. Nothing is
 * submitted and no ledger is touched. Batches of a file that ends rejected
 * are removed again, so DIR never holds half an import.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "parse/sandbox.h"
#include "parse/filecheck.h"
#include "lib/conf.h"

/* SIFT_INPUT_ROWS / _BYTES: a parse's batches for a sequence's sift, at least */
#define SIFT_INPUT_ROWS 50000
#define SIFT_INPUT_BYTES (16u << 20)

static const char *const state_names[] = { "valid", "partial", "rejected", "failed" };
static const int state_status[] = { 0, 1, 3, EXIT_USAGE };

static int check_one(const struct conf *c, const struct feed *f, const char *path,
		     const char *outdir, int origins, int parser_child, int quiet)
{
	int io_status = parser_child ? EXIT_IO : EXIT_USAGE;
	struct filecheck fc;
	struct pipeline_limits lim;
	enum pipeline_state s;

	memset(&fc, 0, sizeof(fc));
	fc.path = path;
	fc.outdir = outdir;
	fc.feed = f;
	fc.keep_origins = origins;
	fc.intermediate = parser_child;
	fc.show = parser_child ? SHOW_PROGRESS_FILE : quiet ? SHOW_NOTHING : SHOW_PROGRESS_BAR;
	filecheck_limits(c, f, &lim);
	if (parser_child && f->sequence) {
		/* the sift's input (sift/), never sent as it is: the sift cuts each target's
		   batches. Ten times fewer files to make and read (400 for a 1M-row file);
		   each row summed here (lib/rowsum.h), so the sift reads the sums and only
		   the rows it sends */
		lim.batch_rows = lim.batch_rows > SIFT_INPUT_ROWS ? lim.batch_rows : SIFT_INPUT_ROWS;
		lim.batch_bytes = lim.batch_bytes > SIFT_INPUT_BYTES ? lim.batch_bytes
								     : SIFT_INPUT_BYTES;
		lim.row_sums = 1;
	}
	if (filecheck_run(&fc, &lim) < 0)
		return io_status; /* unreadable, or its report could not be opened */
	s = fc.res.state;
	if (filecheck_finish(&fc, -1, state_names[s], fc.res.rows_rejected, fc.res.batches,
			     s == PIPE_VALID || s == PIPE_PARTIAL) < 0)
		fc.io_failed = 1;
	filecheck_release(&fc);
	return fc.io_failed ? io_status : state_status[s];
}

/* enter_sandbox: the daemon's parser child, before the first partner byte. */
static int enter_sandbox(const struct command_ctx *cx)
{
	struct buf err = BUF_INIT(4096);
	const char *probe = getenv("DROPGATE_SANDBOX_PROBE");
	int rc = sandbox_enter((unsigned)cx->sandbox, cx->feed, cx->argv, (size_t)cx->argc,
			       cx->outdir, &err);

	if (rc < 0)
		fprintf(stderr, "dropgate check: %s\n", buf_cstr(&err));
	else if (probe && *probe)
		sandbox_probe(cx->conf, cx->argv[0], cx->outdir, probe);
	buf_release(&err);
	return rc;
}

static const struct command_option check_options[] = {
    {"quiet", 'q', no_argument},
    {NULL, 0, 0},
};

const struct command_args check_args = {
	.options = check_options,
	.usage = "usage: dropgate check [-c FILE] --feed NAME [--out DIR] [--quiet] FILE...\n"
		 "Validate and transform files offline, as `run` would; write the Commerce\n"
		 "CSV batches and the partner report to DIR (default: the current directory).\n"
		 "On a terminal, files over 4 MB show a progress bar on stderr (not with --quiet).\n"
		 "Exit: 0 all rows valid, 1 some rows rejected, 3 file rejected, 2 error.\n",
};

int cmd_check(struct command_ctx *cx)
{
	int worst = 0;

	if (cx->sandbox >= 0 && enter_sandbox(cx) < 0)
		return EXIT_USAGE;
	for (int i = 0; i < cx->argc; i++) {
		int s = check_one(cx->conf, cx->feed, cx->argv[i], cx->outdir, cx->origins,
				  cx->sandbox >= 0, command_opt(cx, "quiet") != NULL);
		if (s > worst)
			worst = s;
	}
	return worst;
}
