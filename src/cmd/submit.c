/*
 * dropgate submit --feed NAME [--out DIR] FILE
 *
 * check, then every batch to every target of the feed, then the report with
 * Commerce's answers merged in: rows Commerce rejects are told on the
 * partner's own line, like rows rejected locally. Without the daemon and its
 * ledger. While batch N is in flight, a second thread reads and compresses
 * batch N+1, so that Commerce's time is the only time spent.
 *
 * Exit: as check (Commerce's row rejections count like local ones); 4 when a
 * target is unreachable or refused a batch as a whole; several targets: the
 * highest.
 */
#include "config.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "commerce/payload.h"
#include "orders/orders.h"
#include "parse/filecheck.h"
#include "submit/submitter.h"
#include "lib/conf.h"
#include "ops/progress.h"
#include "outcome/outcome.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

static const struct command_option submit_options[] = {
    {"quiet", 'q', no_argument},
    {NULL, 0, 0},
};

const struct command_args submit_args = {
    .options = submit_options,
    .usage = "usage: dropgate submit [-c FILE] --feed NAME [--out DIR] [--quiet] FILE\n"
	     "check FILE, then send every batch to every target of the feed and wait\n"
	     "for the answers; the report (with Commerce's answers) goes to DIR.\n"
	     "On a terminal, files over 4 MB show a progress bar on stderr (not with --quiet).\n"
	     "Exit: as check; 4 when Commerce is unreachable or refuses a batch.\n",
};

/* the sending's bar on a terminal (ops/progress.h): a batch of a target settled is a step */
struct send_bar {
	struct progress p;
	unsigned long rows_per_batch;
};

static void bar_batch(struct send_bar *b)
{
	progress_bytes(&b->p, 1);
	progress_rows(&b->p, b->rows_per_batch);
}

static void bar_answered(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			 const char *rows, const struct answer *a, const char *settles)
{
	(void)t, (void)seq, (void)sub, (void)rows, (void)a;
	if (settles)
		bar_batch(ctx);
}

static void bar_settled(void *ctx, const struct target *t, unsigned seq, const char *state)
{
	(void)t, (void)seq, (void)state;
	bar_batch(ctx);
}

/* send_bar_start: a bar for the sending when check drew one for the reading */
static const struct submit_hooks *send_bar_start(struct send_bar *b, struct submit_hooks *h,
						 const struct command_ctx *cx,
						 const struct filecheck *fc)
{
	struct stat st;
	size_t ntargets = cx->feed->targets.n;

	if (command_opt(cx, "quiet") || !isatty(2) || stat(fc->path, &st) < 0 ||
	    (unsigned long long)st.st_size < PROGRESS_BAR_MIN || fc->res.batches == 0)
		return NULL;
	b->rows_per_batch = (fc->res.rows - fc->res.rows_rejected) / fc->res.batches;
	progress_open(&b->p, NULL, 1, "sending", (unsigned long long)fc->res.batches * ntargets);
	memset(h, 0, sizeof(*h));
	h->answered = bar_answered;
	h->settled = bar_settled;
	h->ctx = b;
	return h;
}

int cmd_submit(struct command_ctx *cx)
{
	struct send_bar bar;
	struct submit_hooks bar_hooks;
	const struct feed *f = cx->feed;
	struct filecheck fc;
	struct pipeline_limits lim;
	struct submit_state s;
	unsigned long rejected;
	const char *state;
	int status;

	memset(&fc, 0, sizeof(fc));
	fc.path = cx->argv[0];
	fc.outdir = cx->outdir;
	fc.feed = f;
	fc.keep_origins = 1;
	fc.show = command_opt(cx, "quiet") ? SHOW_NOTHING : SHOW_PROGRESS_BAR;
	filecheck_limits(cx->conf, f, &lim);
	if (filecheck_run(&fc, &lim) < 0)
		return EXIT_USAGE;
	if (fc.res.state == PIPE_REJECTED || fc.res.state == PIPE_FAILED) {
		status = fc.res.state == PIPE_REJECTED ? 3 : EXIT_USAGE;
		filecheck_finish(&fc, -1, fc.res.state == PIPE_REJECTED ? "rejected" : "failed",
				 fc.res.rows_rejected, 0, 0);
		filecheck_release(&fc);
		return status;
	}
	memset(&s, 0, sizeof(s));
	s.parcel = &fc.parcel;
	keyset_init(&s.rejected_lines);
	s.local_rejected = fc.res.rows_rejected;
	s.hooks = send_bar_start(&bar, &bar_hooks, cx, &fc);
	commerce_global_init();
	for (size_t i = 0; i < f->targets.n && fc.res.batches > 0; i++) {
		const struct target *t = conf_target(cx->conf, f->targets.v[i]);
		if (f->operation) /* REST operations (orders/), nothing recorded */
			orders_submit(&s, t, NULL, 0);
		else
			submit_target(&s, t);
	}
	if (s.hooks)
		progress_close(&bar.p);
	if (s.why[0] && s.transient) /* e.g. bulk operations still open */
		log_simple(LOG_WARN, "operations_waiting", "%s", s.why);
	rejected = fc.res.rows_rejected + s.commerce_rejected;
	if (s.status == EXIT_COMMERCE) {
		state = "failed";
		status = EXIT_COMMERCE;
	} else if (file_outcome(f, rejected, 0, s.exceeded) == OUTCOME_REJECTED) {
		state = "rejected";
		status = 3;
	} else {
		state = rejected ? "partial" : "done";
		status = rejected ? 1 : 0;
	}
	filecheck_finish(&fc, -1, state, rejected, fc.res.batches, 1);
	/* the line sidecars served their purpose */
	for (unsigned seq = 1; seq <= fc.res.batches; seq++) {
		char *p = parcel_lines_path(fc.outdir, fc.name, seq);
		unlink(p);
		free(p);
	}
	keyset_release(&s.rejected_lines);
	filecheck_release(&fc);
	return status;
}
