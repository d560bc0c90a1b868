/*
 * finish - a file's end: its original archived (compressed) or parked in
 * failed/ with its reports beside it, its end state written, then its work
 * copy removed. The work copy goes only once the end state is on disk: a
 * crash or a ledger that fails before leaves it for the restart, which
 * finishes the file again.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/file_job.h"
#include "parse/parcel.h"
#include "lib/report.h"
#include "outcome/finish.h"
#include "queue/keys.h"
#include "sift/counts.h"
#include "sift/sift.h"
#include "outcome/reports.h"
#include "queue/ledger.h"
#include "queue/notes.h"
#include "queue/spool.h"
#include "submit/submitter.h"
#include "util/log.h"
#include "util/xalloc.h"

static int unpack_like(const char *name)
{
	size_t n = strlen(name);

	return (n > 3 && strcmp(name + n - 3, ".gz") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".zip") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".tgz") == 0);
}

/* defer: the file waits for its next try, the wait doubling from retry_deferred. */
void defer(struct file_job *j, const char *why)
{
	unsigned long wait = conf_retry_wait(j->c, j->lf.attempts);
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s; next try in %lus", why, wait);
	ledger_defer(j->ledger, j->lf.id, time(NULL) + (time_t)wait, msg);
	log_simple(LOG_WARN, "file_deferred", "file_id %lld: %s", j->lf.id, msg);
}

/* park_failed: the original into failed/ with its reports beside it; where, or NULL (err). */
static char *park_failed(struct file_job *j, struct buf *err)
{
	const struct conf *c = j->c;
	char *dir = xasprintf("%s/failed/%s/%s", c->state, j->lf.partner, j->lf.feed);
	char *dest = xasprintf("%s/%s", dir, j->lf.name);

	if (access(dest, F_OK) == 0) {
		char *base = report_base(j->lf.name, 21); /* room for ".<id>" */
		free(dest);
		dest = xasprintf("%s/%s.%lld", dir, base, j->lf.id);
		free(base);
	}
	/* a second name first: until the state is written, the work copy stays */
	if (mkdirs(dir, 0750, err) < 0 || spool_link_or_copy(j->file, dest, err) < 0) {
		log_simple(LOG_ERROR, "park_failed", "%s", buf_cstr(err));
	} else {
		/* the reports beside the original, for the operator */
		char *rdir = reports_dir(c, j->f, j->lf.partner);
		for (int k = 0; k < 2; k++) {
			char *from = k ? report_errors_path(rdir, j->lf.name)
				       : report_result_path(rdir, j->lf.name);
			char *to = k ? report_errors_path(dir, strrchr(dest, '/') + 1)
				     : report_result_path(dir, strrchr(dest, '/') + 1);
			struct buf e2 = BUF_INIT(4096);
			if (access(from, F_OK) == 0)
				spool_link_or_copy(from, to, &e2);
			free(from);
			free(to);
			buf_release(&e2);
		}
		free(rdir);
	}
	free(dir);
	return dest;
}

/* archive: the original into archive/ by a second name (archives as they are, others
   compressed after the end: compress_archive); where it went. */
static char *archive(struct file_job *j, struct buf *err)
{
	char *dir = xasprintf("%s/archive/%s/%s", j->c->state, j->lf.partner, j->lf.feed);
	char *base = report_base(j->lf.name, 21 + 3); /* room for "<id>-" and ".gz" */
	char *dest = xasprintf("%s/%lld-%s", dir, j->lf.id, base);

	free(base);
	/* a name of this file's own (its id): one there is an earlier try's, whose end
	   state was not written; the work copy is the original still */
	if (unlink(dest) < 0 && errno != ENOENT)
		buf_printf(err, "cannot replace %s: %s", dest, strerror(errno));
	if (err->len || mkdirs(dir, 0750, err) < 0 || spool_link_or_copy(j->file, dest, err) < 0)
		log_simple(LOG_ERROR, "archive_failed", "%s", buf_cstr(err));
	free(dir);
	return dest;
}

/*
 * compress_archive: an archived original gzip'd in place, once the file's end
 * state is written: 0.15 s for a 50 MB snapshot that its partner no longer
 * waits for. Until the ledger names the .gz the plain copy stays: a crash
 * between leaves it archived as it came (redrop and retention take both).
 */
static void compress_archive(struct file_job *j, const char *plain)
{
	struct buf err = BUF_INIT(4096);
	char *gz = xasprintf("%s.gz", plain);

	if (spool_gzip(plain, gz, &err) < 0) {
		log_simple(LOG_WARN, "archive_not_compressed", "%s", buf_cstr(&err));
	} else if (ledger_set_path(j->ledger, j->lf.id, gz, NULL) < 0) {
		unlink(gz);
	} else {
		unlink(plain);
	}
	free(gz);
	buf_release(&err);
}

/* finish: the report, the original archived or parked in failed/, the work gone. */
void finish(struct file_job *j, const char *state, const char *message)
{
	struct buf err = BUF_INIT(4096);
	int failed = strcmp(state, ST_FAILED) == 0, clean = 0;
	char *dest;

	dest = failed ? park_failed(j, &err) : archive(j, &err);
	if (err.len) {
		/* no end state without the original kept: it would be a done file whose only
		   copy the next start removes from work/. Tried again, by then with room */
		buf_reset(&err);
		buf_printf(&err, "the original could not be %s (see the log)",
			   failed ? "put in failed/" : "archived");
		defer(j, buf_cstr(&err));
		goto out;
	}
	if (ledger_set_path(j->ledger, j->lf.id, dest, NULL) < 0)
		buf_printf(&err, "the ledger did not take the new path");
	if (ledger_set_state(j->ledger, j->lf.id, state, message) < 0) {
		/* not on disk: the work copy stays, and the restart finishes the file again */
		log_simple(LOG_ERROR, "file_not_finished",
			   "%s: the ledger did not take its end state "
			   "%s; the file is finished again after the restart",
			   j->lf.name, state);
		goto out;
	}
	/* the state is on disk: the work copy can go; else it stays for the restart */
	clean = err.len == 0;
	if ((!strcmp(state, ST_DONE) || !strcmp(state, ST_PARTIAL)) && j->f->mode == MODE_FULL) {
		struct note_key key = { "" };
		char newest[1100];
		note_full(&key, j->lf.partner, j->lf.feed);
		ledger_note_get(j->ledger, key.text, newest, sizeof(newest));
		if (strcmp(j->lf.name, newest) > 0)
			ledger_note_set(j->ledger, key.text, j->lf.name);
	}
	{
		struct logline l;
		log_begin(&l, failed ? LOG_WARN : LOG_INFO, "file_done");
		log_kvf(&l, "file_id", "%lld", j->lf.id);
		log_kv(&l, "partner", j->lf.partner);
		log_kv(&l, "feed", j->lf.feed);
		log_kv(&l, "file", j->lf.name);
		log_kv(&l, "state", state);
		if (message && *message)
			log_kv(&l, "msg", message);
		log_end(&l);
	}
	/* the file is done: what follows only tidies */
	if (clean) {
		remove_tree(j->outdir);
		remove_tree(j->wd);
	}
	if (clean && !failed && !unpack_like(j->lf.name))
		compress_archive(j, dest);
out:
	free(dest);
	buf_release(&err);
}

/* sift_counts: a sequence's file: its counts per target into the ledger, then the report's */
static json_t *sift_counts(struct file_job *j, long local_rejected)
{
	for (size_t i = 0; i < j->sift->ntargets; i++) {
		const struct sift_target *t = &j->sift->t[i];
		long long n[KC_N] = {(long long)t->n.sent, (long long)t->n.unchanged,
				     (long long)t->n.superseded, (long long)t->n.absent,
				     (long long)t->n.rejected + local_rejected};
		keys_counts_set(j->ledger, j->lf.id, t->name, n);
	}
	return counts_json(j->ledger, j->lf.id);
}

/* final_report: worker's messages and the outcome (problems are in already). */
int final_report(struct file_job *j, struct parcel *pc, struct submit_state *s, json_t *worker,
		 const char *state)
{
	int rc = 0;

	struct report_summary sum = {0};
	struct buf err = BUF_INIT(4096);
	json_t *msgs = json_object_get(worker, "messages"), *m;
	size_t i;
	long rows = (long)json_integer_value(json_object_get(worker, "rows"));
	long rejected = (long)json_integer_value(json_object_get(worker, "rows_rejected"));

	json_array_foreach(msgs, i, m)
	{
		const char *text = json_string_value(m);
		if (text) /* the parser's own; the count of rejected rows is told below */
			report_message(pc->report, text);
	}
	rejected += (long)s->commerce_rejected;
	if (rejected) {
		buf_printf(&err, "%ld of %ld rows rejected: see %s.errors.csv", rejected, rows,
			   pc->report->name);
		report_message(pc->report, buf_cstr(&err));
		buf_reset(&err);
	}
	sum.id = j->lf.id;
	sum.feed = j->f->name;
	sum.state = state;
	sum.rows = (unsigned long)rows;
	sum.rows_rejected = (unsigned long)rejected;
	sum.rows_ok = (unsigned long)(rows - rejected);
	sum.batches = (unsigned long)json_integer_value(json_object_get(worker, "batches"));
	ledger_set_counts(j->ledger, j->lf.id, rows, rows - rejected, rejected, (long)sum.batches);
	if (j->sift)
		sum.more = sift_counts(
		    j, (long)json_integer_value(json_object_get(worker, "rows_rejected")));
	if (report_finish(pc->report, &sum, &err) < 0) {
		log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
		rc = -1;
	}
	json_decref(sum.more);
	report_release(pc->report);
	buf_release(&err);
	return rc;
}
