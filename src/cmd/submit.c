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
#include "outcome/outcome.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

const struct command_args submit_args = {
	.usage = "usage: dropgate submit [-c FILE] --feed NAME [--out DIR] FILE\n"
		 "check FILE, then send every batch to every target of the feed and wait\n"
		 "for the answers; the report (with Commerce's answers) goes to DIR.\n"
		 "Exit: as check; 4 when Commerce is unreachable or refuses a batch.\n",
};

int cmd_submit(struct command_ctx *cx)
{
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
	commerce_global_init();
	for (size_t i = 0; i < f->targets.n && fc.res.batches > 0; i++) {
		const struct target *t = conf_target(cx->conf, f->targets.v[i]);
		if (f->operation) /* REST operations (orders/), nothing recorded */
			orders_submit(&s, t, NULL, 0);
		else
			submit_target(&s, t);
	}
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
