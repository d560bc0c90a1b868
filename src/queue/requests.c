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
#include <sqlite3.h>
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
	sqlite3_stmt *st;

	state[0] = '\0';
	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT state FROM batches WHERE file_id = ? AND target = ? "
			       "AND seq = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, target, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, (int)seq);
		if (sqlite3_step(st) == SQLITE_ROW)
			ledger_copy_text(state, size, sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int ledger_batch_set(struct ledger *l, long long id, const char *target, unsigned seq,
		     const char *state, const char *answer_json)
{
	return ledger_run(
	    l,
	    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, strftime('%s','now')) "
	    "ON CONFLICT (file_id, target, seq) DO UPDATE SET state = excluded.state, "
	    "answer = excluded.answer, changed = excluded.changed",
	    "isiss", id, target, (long long)seq, state, answer_json ? answer_json : "");
}

int ledger_batch_answers(struct ledger *l, long long id,
			 void (*fn)(void *ctx, const char *target, unsigned seq, const char *json),
			 void *ctx)
{
	sqlite3_stmt *st;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT target, seq, answer FROM batches WHERE file_id = ? "
			       "AND answer <> '' ORDER BY target, seq",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char *target = xstrdup((const char *)sqlite3_column_text(st, 0));
			char *json = xstrdup((const char *)sqlite3_column_text(st, 2));
			unsigned seq = (unsigned)sqlite3_column_int(st, 1);
			pthread_mutex_unlock(&l->lock);
			fn(ctx, target, seq, json);
			pthread_mutex_lock(&l->lock);
			free(target);
			free(json);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

long ledger_batches_done(struct ledger *l, long long id)
{
	return (long)ledger_single_int(
	    l, "SELECT count(*) FROM batches WHERE file_id = ? AND state = 'done'", "i", id);
}

/* step_locked: one statement with text/int64 parameters, the lock already held; its rc. */
static int step_locked(struct ledger *l, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return rc;
	va_start(ap, types);
	ledger_bind_args(st, types, ap);
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc;
}

/* step_request: the request's row upsert, under the lock. */
static int step_request(struct ledger *l, long long id, const char *target, unsigned seq,
			unsigned sub, const char *rows, const char *state, const char *answer_json)
{
	return step_locked(
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
	return step_locked(
	    l,
	    "INSERT INTO batches VALUES (?, ?, ?, ?, '', strftime('%s','now')) "
	    "ON CONFLICT (file_id, target, seq) DO UPDATE SET state = excluded.state, "
	    "changed = excluded.changed",
	    "isis", id, target, (long long)seq, state);
}

static int run_request(struct ledger *l, long long id, const char *target, unsigned seq,
		       unsigned sub, const char *rows, const char *state, const char *answer_json)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = step_request(l, id, target, seq, sub, rows, state, answer_json);
	if (rc != SQLITE_DONE) {
		__atomic_store_n(&l->failed, 1, __ATOMIC_RELAXED);
		log_simple(LOG_ERROR, "ledger_failed", "%s", sqlite3_errmsg(l->db));
	}
	pthread_mutex_unlock(&l->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

int ledger_request_set(struct ledger *l, long long id, const char *target, unsigned seq,
		       unsigned sub, const char *rows, const char *state, const char *answer_json,
		       const char *batch_state)
{
	int rc;

	if (batch_state == NULL)
		return run_request(l, id, target, seq, sub, rows, state, answer_json);
	/* the request's answer and the batch it settles: one commit, one fsync */
	pthread_mutex_lock(&l->lock);
	rc = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK &&
	    step_request(l, id, target, seq, sub, rows, state, answer_json) == SQLITE_DONE)
		rc = batch_upsert(l, id, target, seq, batch_state);
	else if (rc == SQLITE_OK)
		rc = SQLITE_ERROR;
	rc = rc == SQLITE_DONE ? sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) : rc;
	if (rc != SQLITE_OK) {
		__atomic_store_n(&l->failed, 1, __ATOMIC_RELAXED);
		log_simple(LOG_ERROR, "ledger_failed", "%s", sqlite3_errmsg(l->db));
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&l->lock);
	return rc == SQLITE_OK ? 0 : -1;
}

int ledger_request_get(struct ledger *l, long long id, const char *target, unsigned seq,
		       unsigned sub, struct ledger_request *r)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT rows, state, answer FROM requests WHERE file_id = ? "
			       "AND target = ? AND seq = ? AND sub = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, target, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, (int)seq);
		sqlite3_bind_int(st, 4, (int)sub);
		if (sqlite3_step(st) == SQLITE_ROW) {
			r->target = xstrdup(target);
			r->seq = seq;
			r->sub = sub;
			r->rows = xstrdup((const char *)sqlite3_column_text(st, 0));
			ledger_copy_text(r->state, sizeof(r->state), sqlite3_column_text(st, 1));
			r->answer = xstrdup((const char *)sqlite3_column_text(st, 2));
			rc = 0;
		}
		sqlite3_finalize(st);
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
	sqlite3_stmt *st;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT target, seq, sub, rows, state, answer FROM requests "
			       "WHERE file_id = ? ORDER BY target, seq, sub",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct ledger_request r;

			r.target = xstrdup((const char *)sqlite3_column_text(st, 0));
			r.seq = (unsigned)sqlite3_column_int(st, 1);
			r.sub = (unsigned)sqlite3_column_int(st, 2);
			r.rows = xstrdup((const char *)sqlite3_column_text(st, 3));
			ledger_copy_text(r.state, sizeof(r.state), sqlite3_column_text(st, 4));
			r.answer = xstrdup((const char *)sqlite3_column_text(st, 5));
			pthread_mutex_unlock(&l->lock);
			fn(ctx, &r);
			pthread_mutex_lock(&l->lock);
			ledger_request_release(&r);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}
