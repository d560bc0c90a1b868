/*
 * job - one file, from the state the ledger holds to its end: a claim cut
 * short finished, the duplicate and stale checks, the parse in a sandboxed
 * child (parse/parser.c), the batches submitted to every target with each
 * request recorded before it goes and its answer after (submit/), then the
 * report and the end (outcome/finish.c). After a crash the same function
 * runs from the recorded state: only the request in flight is sent again.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "claim/claim.h"
#include "cmd/commands.h"
#include "daemon/job.h"
#include "export/stock.h"
#include "lib/report.h"
#include "lib/stamp.h"
#include "outcome/finish.h"
#include "outcome/outcome.h"
#include "orders/orders.h"
#include "outcome/reports.h"
#include "parse/parcel.h"
#include "parse/parser.h"
#include "queue/ledger.h"
#include "queue/nodes.h"
#include "queue/notes.h"
#include "queue/spool.h"
#include "sift/sift.h"
#include "submit/submitter.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

/* confirmed: rows Commerce imported, into the sequence's key store */
static void confirmed(struct file_job *j, const struct target *t, unsigned seq, const char *rows)
{
	size_t k;

	if (j->sift == NULL || (k = sift_target(j->sift, t->name)) == j->sift->ntargets)
		return;
	sift_confirmed(j->sift, j->ledger, k, seq, rows);
}

/* hook_recorded: an answer given before a restart is used again; only "sent" goes again */
static int hook_recorded(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			 const char *rows, struct answer *a)
{
	struct file_job *j = ctx;
	struct ledger_request r;
	int found;

	if (ledger_request_get(j->ledger, j->lf.id, t->name, seq, sub, &r) < 0)
		return 0;
	found = strcmp(r.state, "sent") != 0 && strcmp(r.rows, rows) == 0 &&
		answer_from_json(a, r.answer) == 0;
	ledger_request_release(&r);
	/* the store takes what Commerce imported again: a crash may have come
	   between the answer's record and the store's (keys_put is idempotent) */
	if (found && a->cls == ANSWER_DONE)
		confirmed(j, t, seq, rows);
	return found;
}

static int hook_before(void *ctx, const struct target *t, unsigned seq, unsigned sub,
		       const char *rows)
{
	struct file_job *j = ctx;

	return ledger_request_set(j->ledger, j->lf.id, t->name, seq, sub, rows, "sent", NULL, NULL);
}

static void hook_answered(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			  const char *rows, const struct answer *a, const char *settles)
{
	struct file_job *j = ctx;
	char *json;

	if (a->cls == ANSWER_TRANSIENT)
		return; /* not an answer: the request stays "sent", to be sent again */
	json = answer_to_json(a);
	ledger_request_set(j->ledger, j->lf.id, t->name, seq, sub, rows,
			   a->cls == ANSWER_DONE ? "done" : "refused", json, settles);
	free(json);
	if (a->cls == ANSWER_DONE)
		confirmed(j, t, seq, rows);
}

/* hook_stop: a stop, or a ledger or fsync that failed (the daemon stops at its next tick),
 * or the file another node's now (its lease lost: nodes.h): send nothing more. */
static int hook_stop(void *ctx)
{
	struct file_job *j = ctx;

	return j->stop() || ledger_failed(j->ledger) || durable_failed() ||
	       ledger_fenced(j->ledger, j->lf.id);
}

static void hook_settled(void *ctx, const struct target *t, unsigned seq, const char *state)
{
	struct file_job *j = ctx;

	ledger_batch_set(j->ledger, j->lf.id, t->name, seq, state, NULL);
}

static const struct submit_hooks hooks_proto = {hook_recorded, hook_before, hook_answered,
						hook_settled,  hook_stop,   NULL};

/*
 * end_with_report: the partner's report, then the end. A report that could not
 * be written (a full or failing disk) ends nothing: the file is deferred and
 * finished at its next try, when its recorded answers are used again.
 */
static void end_with_report(struct file_job *j, struct parcel *pc, struct submit_state *s,
			    json_t *worker, const char *state, const char *message)
{
	if (final_report(j, pc, s, worker, state) < 0) {
		defer(j, "the partner's report could not be written (see the log)");
		return;
	}
	finish(j, state, message);
}

/*
 * open_parcel: the parcel the parser left (pc), with the partner's report in
 * the spool opened on it and the parser's rejected rows already in it.
 */
static int open_parcel(struct file_job *j, json_t *worker, struct parcel *pc, struct report *report,
		       const char *rdir, struct buf *err)
{
	char *errors;

	memset(pc, 0, sizeof(*pc));
	pc->dir = j->outdir;
	pc->name = j->lf.name;
	pc->path = j->file;
	pc->feed = j->f;
	pc->batches = (unsigned long)json_integer_value(json_object_get(worker, "batches"));
	pc->rows = (unsigned long)json_integer_value(json_object_get(worker, "rows"));
	pc->report = report;
	parcel_load_members(pc);
	if (mkdirs(rdir, 0755, err) < 0 || report_open(report, rdir, j->lf.name, err) < 0)
		return -1;
	errors = report_errors_path(j->outdir, j->lf.name);
	report_take_errors(report, errors);
	free(errors);
	return 0;
}

static void end_simply(struct file_job *j, const char *state, const char *message);

/* sift_end: a sequence's file refused by its sift, or wholly superseded, ends here (1) */
static int sift_end(struct file_job *j, struct parcel *pc, struct submit_state *s,
		    json_t *worker)
{
	char msg[1024];

	if (j->sift->refused) {
		parcel_message(pc, j->sift->refused);
		end_with_report(j, pc, s, worker, ST_FAILED, j->sift->refused);
		return 1;
	}
	if (j->sift->stale) {
		snprintf(msg, sizeof(msg),
			 "every row is superseded: later files of the sequence '%s' already "
			 "spoke for these keys",
			 j->f->sequence);
		report_release(pc->report);
		end_simply(j, ST_STALE, msg);
		return 1;
	}
	return 0;
}

/*
 * submit_targets: each target its batches (a sequence's file: its own sifted
 * parcel, and once every batch is through, the file's stamp into its store).
 */
static void submit_targets(struct file_job *j, struct parcel *pc, struct submit_state *s)
{
	int status = 0, transient = 0;

	for (size_t i = 0; i < j->f->targets.n && !s->stopped; i++) {
		const struct target *t = conf_target(j->c, j->f->targets.v[i]);
		unsigned long before = s->commerce_rejected;
		struct sift_target *st = j->sift ? &j->sift->t[i] : NULL;

		if (st) {
			pc->dir = st->dir;
			pc->batches = st->n.batches;
		}
		s->status = 0;
		s->transient = 0;
		if (pc->batches > 0 && j->f->operation) /* REST operations, each recorded: orders/ */
			orders_submit(s, t, j->ledger, j->lf.id);
		else if (pc->batches > 0)
			submit_target(s, t);
		if (st) {
			st->n.rejected = s->commerce_rejected - before;
			/* every batch through (rows Commerce refused included): the file's
			   stamp counts for what it held; not when sending stopped short */
			if (s->status == 0 && !s->stopped && !s->exceeded && !hook_stop(j))
				sift_target_done(j->sift, j->ledger, i);
		}
		if (s->status > status)
			status = s->status;
		transient |= s->transient;
	}
	/* a target stopped, down or refused mid-way: what it confirmed goes in the store now,
	   before the file waits (the next file of the lane must see it) */
	for (size_t i = 0; j->sift && i < j->sift->ntargets; i++)
		sift_flush(j->sift, j->ledger, i);
	pc->dir = j->outdir;
	s->status = status;
	s->transient = transient;
}

/* submit_all: the batches to every target, the report, the end state. */
static void submit_all(struct file_job *j, json_t *worker)
{
	struct report report;
	struct parcel pc;
	struct submit_state s;
	struct submit_hooks hooks = hooks_proto;
	struct sift *sift = xcalloc(1, sizeof(*sift)); /* j->sift while the file is submitted */
	struct buf err = BUF_INIT(4096);
	char *rdir = reports_dir(j->c, j->f, j->lf.partner);
	const char *wstate = json_string_value(json_object_get(worker, "state"));
	long rejected;
	const char *state;

	if (open_parcel(j, worker, &pc, &report, rdir, &err) < 0) {
		log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
		defer(j, "the report cannot be written");
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.parcel = &pc;
	keyset_init(&s.rejected_lines);
	hooks.ctx = j;
	s.hooks = &hooks;
	s.local_rejected =
	    (unsigned long)json_integer_value(json_object_get(worker, "rows_rejected"));
	if (wstate && strcmp(wstate, "rejected") == 0) {
		end_with_report(j, &pc, &s, worker, ST_FAILED,
				"the file was rejected: see its report");
		goto done;
	}
	if (j->f->sequence) {
		if (sift_prepare(sift, j->ledger, j->c, j->f, j->lf.partner, j->outdir, j->lf.name,
				 pc.batches, j->lf.stamp, j->lf.force == 2, &err) < 0) {
			log_simple(LOG_ERROR, "sift_failed", "file_id %lld: %s", j->lf.id,
				   buf_cstr(&err));
			report_release(&report);
			defer(j, "the key store or the disk failed (see the log)");
			goto done;
		}
		j->sift = sift;
		if (sift_end(j, &pc, &s, worker))
			goto done;
	}
	ledger_set_state(j->ledger, j->lf.id, ST_SUBMITTING, NULL);
	submit_targets(j, &pc, &s);
	/* a full snapshot confirmed by every target: the sales channels get the new picture */
	if (j->sift && j->f->mode == MODE_FULL && s.status == 0 && !s.stopped && !s.exceeded &&
	    !hook_stop(j))
		stock_export_after_full(j->c, j->ledger, j->f->sequence, time(NULL));
	if (s.stopped || hook_stop(j)) {
		report_release(&report); /* resumed after the restart */
		goto done;
	}
	if (s.status == EXIT_COMMERCE && s.transient) {
		report_release(&report);
		defer(j, s.why[0] ? s.why : "Commerce is unreachable");
		goto done;
	}
	rejected = (long)json_integer_value(json_object_get(worker, "rows_rejected"));
	rejected += (long)s.commerce_rejected;
	switch (
	    file_outcome(j->f, (unsigned long)rejected, s.status == EXIT_COMMERCE, s.exceeded)) {
	case OUTCOME_DONE:
		state = ST_DONE;
		break;
	case OUTCOME_PARTIAL:
		state = ST_PARTIAL;
		break;
	default:
		state = ST_FAILED;
		break;
	}
	end_with_report(j, &pc, &s, worker, state,
			s.status == EXIT_COMMERCE ? "Commerce refused a batch: see the report"
			: s.exceeded ? "more rows rejected than the feed allows: see the report"
				     : "");
done:
	keyset_release(&s.rejected_lines);
out:
	j->sift = NULL;
	sift_release(sift);
	free(sift);
	parcel_release(&pc);
	free(rdir);
	buf_release(&err);
}

static json_t *read_worker_result(const struct file_job *j)
{
	struct buf err = BUF_INIT(4096);
	json_t *r = parcel_result(j->outdir, j->lf.name, &err);

	if (r == NULL && err.len)
		log_simple(LOG_WARN, "worker_result_refused", "file_id %lld: %s", j->lf.id,
			   buf_cstr(&err));
	buf_release(&err);
	return r;
}

/* park_unknown_feed: the feed was renamed or removed: the file waits, untouched. */
static void park_unknown_feed(struct file_job *j)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "the feed '%s' is no longer configured: the file waits in %s "
		 "until a feed of that name is",
		 j->lf.feed, j->wd);
	ledger_defer(j->ledger, j->lf.id, time(NULL) + (time_t)j->c->retry_deferred_max, msg);
	log_simple(LOG_WARN, "file_parked", "file_id %lld: %s", j->lf.id, msg);
}

/*
 * A file's life is this table: the state the ledger holds, and the step that
 * takes the file on from it. A step returns the state it left the file in
 * (the next row to run), or NULL when the file has ended, was parked or
 * deferred. After a restart the same table runs from the recorded state.
 */
static const char *step_claim(struct file_job *j);
static const char *step_screen(struct file_job *j);
static const char *step_parse(struct file_job *j);
static const char *step_submit(struct file_job *j);
static const char *step_resume(struct file_job *j);

static const struct {
	const char *state;
	const char *(*step)(struct file_job *j);
} life[] = {
    {ST_RECEIVED, step_claim},	  /* a claim cut short or due for its retry: finish it */
    {ST_PROCESSING, step_screen}, /* duplicate or stale ends here, the rest is parsed */
    {"parse", step_parse},	  /* (screened: in memory only) the sandboxed parser */
    {ST_SUBMITTING, step_submit}, /* the batches, the report, the end state */
    {ST_DEFERRED, step_resume},	  /* parsed already: submitted; else screened, parsed */
};

static const char *step_claim(struct file_job *j)
{
	/* finished from where the ledger says the file is, or left to its next try */
	char *from = xstrdup(j->lf.path);
	long long id = j->lf.id;

	if (claim_finish(j->ledger, j->c, from) == 0 && j->f && j->f->complete == COMPLETE_OKFILE)
		claim_marker_remove(from);
	free(from);
	if (ledger_get(j->ledger, id, &j->lf) < 0 || strcmp(j->lf.state, ST_PROCESSING) != 0)
		return NULL;
	return ST_PROCESSING;
}

/*
 * end_simply: a one-message report, then the end. A report the disk refuses ends
 * nothing: the file is deferred, and screened (or parsed) again at its next try.
 */
static void end_simply(struct file_job *j, const char *state, const char *message)
{
	if (report_simple(j->c, j->f, j->lf.id, j->lf.partner, j->lf.name, state, message) < 0) {
		defer(j, "the partner's report could not be written (see the log)");
		return;
	}
	finish(j, state, message);
}

/* screen: the same bytes as an imported file, or older than the newest full snapshot */
static const char *step_screen(struct file_job *j)
{
	long long same;
	struct note_key key = {""};
	char newest[1100], msg[1300];

	if (j->lf.force)
		return "parse";
	same = ledger_find_same(j->ledger, j->lf.id, j->lf.partner, j->lf.feed, j->lf.sha256,
				"done,partial");
	if (same > 0) {
		snprintf(msg, sizeof(msg), "the same bytes as file %lld, already imported", same);
		end_simply(j, ST_DUPLICATE, msg);
		return NULL;
	}
	if (j->f->sequence) {
		/* a sequence's time line: the key store decides what is stale (sift/) */
		time_t t;
		if (j->f->stamp.kind == STAMP_NAME &&
		    stamp_from_name(j->f->stamp.format, j->lf.name, &t) < 0) {
			snprintf(msg, sizeof(msg),
				 "the name does not carry the stamp '%s' (strptime fields the "
				 "feed's stamp = %s looks for): rename it and drop it again",
				 j->f->stamp.format, j->f->stamp.spec);
			end_simply(j, ST_FAILED, msg);
			return NULL;
		}
		return "parse";
	}
	ledger_note_get(j->ledger, note_full(&key, j->lf.partner, j->lf.feed), newest,
			sizeof(newest));
	if (j->f->order == ORDER_NAME && newest[0] && strcmp(j->lf.name, newest) < 0) {
		snprintf(msg, sizeof(msg), "older than the full snapshot %s already imported",
			 newest);
		end_simply(j, ST_STALE, msg);
		return NULL;
	}
	return "parse";
}

/* parse_failed: the parser ended without a result: the disk's fault defers, the file's fails */
static void parse_failed(struct file_job *j, int status)
{
	char msg[256];

	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_IO) {
		/* the disk failed the parser, not the file: nothing half-written stays */
		remove_tree(j->outdir);
		defer(j, "the parser could not read the file or write its batches "
			 "(a disk error: see the log)");
		return;
	}
	if (disk_free(j->c->state) < j->c->min_free) {
		remove_tree(j->outdir); /* nothing half-written stays */
		defer(j, "the state disk is full");
		return;
	}
	if (WIFSIGNALED(status))
		snprintf(msg, sizeof(msg),
			 "the parser process died (signal %d): the file is not "
			 "readable as this feed",
			 WTERMSIG(status));
	else
		snprintf(msg, sizeof(msg), "the parser process failed (exit %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	end_simply(j, ST_FAILED, msg);
}

/* step_parse: (again, after a restart: batches come out the same for the same bytes) */
static const char *step_parse(struct file_job *j)
{
	struct buf err = BUF_INIT(4096);
	int stopped, status;

	remove_tree(j->outdir);
	if (mkdirs(j->outdir, 0750, &err) < 0) {
		defer(j, buf_cstr(&err));
		buf_release(&err);
		return NULL;
	}
	buf_release(&err);
	ledger_set_state(j->ledger, j->lf.id, ST_PROCESSING, "parsing");
	status = parser_run(j->self, j->c, j->f, j->file, j->outdir, j->stop, &stopped);
	if (stopped)
		return NULL; /* parked: parsed again after the restart */
	if (status < 0) {    /* no process (fork failed): nothing is wrong with the file */
		char why[256];
		snprintf(why, sizeof(why), "the parser process could not be started: %s",
			 strerror(errno));
		defer(j, why);
		return NULL;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) == EXIT_USAGE ||
	    WEXITSTATUS(status) == EXIT_IO || (j->worker = read_worker_result(j)) == NULL) {
		parse_failed(j, status);
		return NULL;
	}
	return ST_SUBMITTING;
}

/* parsed_before: the parse of an earlier run can be resumed from (a sequence's only
   once its sift is saved: its parse is not made durable) */
static int parsed_before(struct file_job *j)
{
	if (j->f && j->f->sequence && !sift_saved(j->outdir))
		return 0;
	return (j->worker = read_worker_result(j)) != NULL;
}

static const char *step_submit(struct file_job *j)
{
	if (j->worker == NULL && !parsed_before(j))
		return "parse"; /* no result to resume from: parsed again */
	submit_all(j, j->worker);
	return NULL;
}

static const char *step_resume(struct file_job *j)
{
	/* parsed already: submitted (answers recorded are used again); else screened again,
	   as a file that never reached the parser (a duplicate deferred at its end stays one) */
	return parsed_before(j) ? ST_SUBMITTING : ST_PROCESSING;
}

static void log_processing(const struct file_job *j)
{
	struct logline ll;

	log_begin(&ll, LOG_INFO, "file_processing");
	log_kvf(&ll, "file_id", "%lld", j->lf.id);
	log_kv(&ll, "partner", j->lf.partner);
	log_kv(&ll, "feed", j->lf.feed);
	log_kv(&ll, "file", j->lf.name);
	log_kv(&ll, "state", j->lf.state);
	log_end(&ll);
}

/* ready_to_go_on: a feed still configured, and the file's digest known (the duplicate check's) */
static int ready_to_go_on(struct file_job *j)
{
	struct buf err = BUF_INIT(4096);

	if (j->f == NULL) {
		park_unknown_feed(j);
		return 0;
	}
	if (j->lf.sha256[0] == '\0') {
		if (sha256_file(j->file, j->lf.sha256, &err) < 0) {
			ledger_set_state(j->ledger, j->lf.id, ST_FAILED, buf_cstr(&err));
			buf_release(&err);
			return 0;
		}
		ledger_set_path(j->ledger, j->lf.id, j->file, j->lf.sha256);
	}
	buf_release(&err);
	return 1;
}

void job_run(struct ledger *l, const char *self, const struct conf *c, int (*stop)(void),
	     long long id)
{
	struct file_job j;
	const char *state;

	memset(&j, 0, sizeof(j));
	j.ledger = l;
	j.self = self;
	j.stop = stop;
	j.c = c;
	if (ledger_get(l, id, &j.lf) < 0)
		return;
	j.f = conf_feed(j.c, j.lf.feed);
	log_processing(&j);
	j.wd = xasprintf("%s/work/%lld", j.c->state, id);
	j.outdir = xasprintf("%s/.out", j.wd); /* a dot-name: never a claimed file's */
	j.file = xasprintf("%s/%s", j.wd, j.lf.name);
	state = j.lf.state;
	if (strcmp(state, ST_RECEIVED) == 0)
		state = step_claim(&j);
	if (state && !ready_to_go_on(&j))
		state = NULL;
	while (state && !ledger_fenced(l, id)) {
		size_t k = 0;
		while (k < sizeof(life) / sizeof(life[0]) && strcmp(life[k].state, state) != 0)
			k++;
		if (k == sizeof(life) / sizeof(life[0])) {
			log_simple(LOG_ERROR, "file_state_unknown",
				   "file_id %lld: state '%s' has no "
				   "step: left as it is",
				   id, state);
			break;
		}
		state = life[k].step(&j);
	}
	json_decref(j.worker);
	free(j.wd);
	free(j.outdir);
	free(j.file);
}
