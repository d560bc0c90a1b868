/*
 * requests - the ledger's batches and Commerce requests: each request is
 * recorded (batch, request number, the batch rows it carries) as `sent`
 * before it goes and as `done` or `refused` with Commerce's answer after, in
 * one commit with the batch state it settles. A restart sends again only
 * what is still `sent`.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "util/log.h"
#include "util/xalloc.h"

int ledger_batch_state(struct ledger *l, long long id, const char *target, unsigned seq,
		       char *state, size_t size)
{
	struct db_stmt *st;

	state[0] = '\0';
	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT state FROM batches WHERE file_id = ? AND target = ? "
				    "AND seq = ?")) != NULL) {
		db_bind_int64(st, 1, id);
		db_bind_text(st, 2, target);
		db_bind_int64(st, 3, (long long)seq);
		if (db_step(st) == DB_ROW)
			ledger_copy_text(state, size, db_column_text(st, 0));
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int ledger_batch_set(struct ledger *l, long long id, const char *target, unsigned seq,
		     const char *state, const char *answer_json)
{
	int rc = ledger_fenced_begin(l, id);

	if (rc == 0)
		rc = ledger_step(
		    l,
		    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, strftime('%s','now')) "
		    "ON CONFLICT (file_id, target, seq) DO UPDATE SET state = excluded.state, "
		    "answer = excluded.answer, changed = excluded.changed",
		    "isiss", id, target, (long long)seq, state, answer_json ? answer_json : "");
	return ledger_write_end(l, rc) == 0 ? 0 : -1;
}

int ledger_batch_answers(struct ledger *l, long long id,
			 void (*fn)(void *ctx, const char *target, unsigned seq, const char *json),
			 void *ctx)
{
	struct db_stmt *st;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT target, seq, answer FROM batches WHERE file_id = ? "
				    "AND answer <> '' ORDER BY target, seq")) != NULL) {
		db_bind_int64(st, 1, id);
		while (db_step(st) == DB_ROW) {
			char *target = ledger_strdup(db_column_text(st, 0));
			char *json = ledger_strdup(db_column_text(st, 2));
			unsigned seq = (unsigned)db_column_int64(st, 1);
			pthread_mutex_unlock(&l->lock);
			fn(ctx, target, seq, json);
			pthread_mutex_lock(&l->lock);
			free(target);
			free(json);
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

long ledger_batches_done(struct ledger *l, long long id)
{
	return (long)ledger_single_int(
	    l, "SELECT count(*) FROM batches WHERE file_id = ? AND state = 'done'", "i", id);
}

/* step_request: the request's row upsert, under the lock. */
static int step_request(struct ledger *l, long long id, const char *target, unsigned seq,
			unsigned sub, const char *rows, const char *state, const char *answer_json)
{
	return ledger_step(
	    l,
	    "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, strftime('%s','now')) "
	    "ON CONFLICT (file_id, target, seq, sub) DO UPDATE SET rows = excluded.rows, "
	    "state = excluded.state, answer = excluded.answer, changed = excluded.changed",
	    "isiisss", id, target, (long long)seq, (long long)sub, rows, state,
	    answer_json ? answer_json : "");
}

/* batch_upsert: a batch's state, under the lock, inside the caller's transaction. */
static int batch_upsert(struct ledger *l, long long id, const char *target, unsigned seq,
			const char *state)
{
	return ledger_step(
	    l,
	    "INSERT INTO batches VALUES (?, ?, ?, ?, '', strftime('%s','now')) "
	    "ON CONFLICT (file_id, target, seq) DO UPDATE SET state = excluded.state, "
	    "changed = excluded.changed",
	    "isis", id, target, (long long)seq, state);
}

int ledger_request_set(struct ledger *l, long long id, const char *target, unsigned seq,
		       unsigned sub, const char *rows, const char *state, const char *answer_json,
		       const char *batch_state)
{
	/* the request (and the batch it settles): one commit, one fsync, when this node
	   still holds the file (nodes.h): a request is never recorded sent, so never sent,
	   by a node that lost it */
	int rc = ledger_fenced_begin(l, id);

	if (rc == 0)
		rc = step_request(l, id, target, seq, sub, rows, state, answer_json);
	if (rc == 0 && batch_state)
		rc = batch_upsert(l, id, target, seq, batch_state);
	return ledger_write_end(l, rc) == 0 ? 0 : -1;
}

int ledger_request_get(struct ledger *l, long long id, const char *target, unsigned seq,
		       unsigned sub, struct ledger_request *r)
{
	struct db_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT rows, state, answer FROM requests WHERE file_id = ? "
				    "AND target = ? AND seq = ? AND sub = ?")) != NULL) {
		db_bind_int64(st, 1, id);
		db_bind_text(st, 2, target);
		db_bind_int64(st, 3, (long long)seq);
		db_bind_int64(st, 4, (long long)sub);
		if (db_step(st) == DB_ROW) {
			r->target = xstrdup(target);
			r->seq = seq;
			r->sub = sub;
			r->rows = ledger_strdup(db_column_text(st, 0));
			ledger_copy_text(r->state, sizeof(r->state), db_column_text(st, 1));
			r->answer = ledger_strdup(db_column_text(st, 2));
			rc = 0;
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void ledger_request_release(struct ledger_request *r)
{
	free(r->target);
	free(r->rows);
	free(r->answer);
	memset(r, 0, sizeof(*r));
}

int ledger_requests(struct ledger *l, long long id,
		    void (*fn)(void *ctx, const struct ledger_request *r), void *ctx)
{
	struct db_stmt *st;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT target, seq, sub, rows, state, answer FROM requests "
				    "WHERE file_id = ? ORDER BY target, seq, sub")) != NULL) {
		db_bind_int64(st, 1, id);
		while (db_step(st) == DB_ROW) {
			struct ledger_request r;

			r.target = ledger_strdup(db_column_text(st, 0));
			r.seq = (unsigned)db_column_int64(st, 1);
			r.sub = (unsigned)db_column_int64(st, 2);
			r.rows = ledger_strdup(db_column_text(st, 3));
			ledger_copy_text(r.state, sizeof(r.state), db_column_text(st, 4));
			r.answer = ledger_strdup(db_column_text(st, 5));
			pthread_mutex_unlock(&l->lock);
			fn(ctx, &r);
			pthread_mutex_lock(&l->lock);
			ledger_request_release(&r);
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}
