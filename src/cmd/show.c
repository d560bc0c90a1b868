/*
 * dropgate show [-c FILE] ID: one file's whole history from the ledger,
 * beside a running daemon (SQLite's WAL lets both in): its state and counts,
 * where its bytes and its report are, its events, each batch's answers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "lib/stamp.h"
#include "queue/keys.h"
#include "commerce/answer.h"
#include "daemon/daemon.h"
#include "lib/conf.h"
#include "lib/report.h"
#include "queue/ledger.h"
#include "queue/operations.h"

const struct command_args show_args = {
    .usage = "usage: dropgate show [-c FILE] ID\nOne file's whole history.\n",
};

static void print_event(void *ctx, time_t ts, const char *state, const char *message)
{
	char t[32];

	(void)ctx;
	iso_time(ts, t);
	print_safe("  %s  %-10s %s\n", t, state, message);
}

/* print_request: one request of a batch; a batch Commerce refused row by row has several */
static void print_request(void *ctx, const struct ledger_request *r)
{
	struct answer a;
	char which[160] = "";

	(void)ctx;
	if (r->sub > 0)
		snprintf(which, sizeof(which), ", request %u", r->sub + 1);
	print_safe("  batch %u to %s%s (rows %s): ", r->seq, r->target, which, r->rows);
	answer_init(&a);
	if (strcmp(r->state, "sent") == 0)
		print_safe("sent, no answer yet\n");
	else if (answer_from_json(&a, r->answer) == 0) {
		print_safe("HTTP %ld, %lu rows processed, %zu rows rejected%s%s\n", a.http_status,
			   a.processed, a.nrows, a.message.len ? ": " : "", buf_cstr(&a.message));
		for (size_t i = 0; i < a.nrows; i++)
			print_safe("    row %lu: %s\n", a.rows[i].row, a.rows[i].message);
	}
	answer_release(&a);
}

/* print_counts: a sequence's file, per target */
static void print_counts(void *ctx, const char *target, const long long n[KC_N])
{
	(void)ctx;
	print_safe("  %s: sent %lld, unchanged %lld, superseded %lld, absent %lld, rejected %lld\n",
		   target, n[KC_SENT], n[KC_UNCHANGED], n[KC_SUPERSEDED], n[KC_ABSENT],
		   n[KC_REJECTED]);
}

/* print_operation: an operation of an operation feed that is not simply done */
static void print_operation(void *ctx, const struct ledger_op *op)
{
	const char *target = ctx;

	if (strcmp(op->state, "done") == 0)
		return;
	print_safe("  operation %u to %s: %s%s%s%s%s\n", op->no + 1, target, op->state,
		   op->uuid[0] ? " in bulk " : "", op->uuid, op->result && *op->result ? ": " : "",
		   op->result ? op->result : "");
}

/* print_operations: an operation feed's operations, counted by state, the others listed */
static void print_operations(struct command_ctx *cx)
{
	static const char *const states[] = {"done",	"skipped", "refused", "open",
					     "sent",	"retry",   "rejected", NULL};
	const struct feed *feed = conf_feed(cx->conf, cx->file.feed);
	long long n, all = 0;

	for (const char *const *st = states; *st; st++)
		all += ledger_ops_count(cx->ledger, cx->id, *st);
	if (all == 0)
		return;
	printf("operations:");
	for (const char *const *st = states; *st; st++)
		if ((n = ledger_ops_count(cx->ledger, cx->id, *st)) > 0)
			printf(" %s %lld", *st, n);
	printf("\n");
	for (size_t i = 0; feed && i < feed->targets.n; i++)
		ledger_ops_load(cx->ledger, cx->id, feed->targets.v[i], print_operation,
				feed->targets.v[i]);
}

int cmd_show(struct command_ctx *cx)
{
	const struct ledger_file *f = &cx->file;
	char r[32], fin[32];
	char *rdir, *report;

	iso_or_dash(f->received, r);
	iso_or_dash(f->finished, fin);
	print_safe("file %lld: %s (partner %s, feed %s)\n  state %s%s%s\n  rows %ld, ok %ld, "
		   "rejected %ld, batches %ld (%ld confirmed)\n  sha256 %s, %lld bytes\n"
		   "  received %s, finished %s\n  now at %s\n",
		   f->id, f->name, f->partner, f->feed, f->state, f->message[0] ? ": " : "",
		   f->message, f->rows, f->rows_ok, f->rows_rejected, f->batches,
		   ledger_batches_done(cx->ledger, cx->id), f->sha256, f->size, r, fin, f->path);
	if (f->stamp) {
		char st[32];
		stamp_text((time_t)f->stamp, st, sizeof(st));
		print_safe("  %s, stamp %s\n", f->lane, st);
	}
	keys_counts_each(cx->ledger, cx->id, print_counts, NULL);
	rdir = reports_dir(cx->conf, conf_feed(cx->conf, f->feed), f->partner);
	report = report_result_path(rdir, f->name);
	print_safe("  report %s\nhistory:\n", report);
	free(report);
	free(rdir);
	ledger_events(cx->ledger, cx->id, print_event, NULL);
	printf("Commerce's answers:\n");
	ledger_requests(cx->ledger, cx->id, print_request, NULL);
	print_operations(cx);
	return 0;
}
