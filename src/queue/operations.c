/*
 * operations - the ledger's table of REST operations (operations.h). The table
 * is created with the ledger (ledger_operations_schema, run by ledger_open).
 */
#include "config.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/operations.h"
#include "util/log.h"

const char ledger_operations_schema[] =
    "CREATE TABLE IF NOT EXISTS operations ("
    " file_id INTEGER NOT NULL REFERENCES files(id), target TEXT NOT NULL, no INTEGER NOT NULL,"
    " state TEXT NOT NULL, uuid TEXT NOT NULL DEFAULT '', bulk_op INTEGER NOT NULL DEFAULT 0,"
    " tries INTEGER NOT NULL DEFAULT 0, before TEXT NOT NULL DEFAULT '',"
    " result TEXT NOT NULL DEFAULT '', changed INTEGER NOT NULL,"
    " PRIMARY KEY (file_id, target, no));";

int ledger_ops_put(struct ledger *l, long long id, const char *target, const struct ledger_op *v,
		   size_t n)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&l->lock);
	rc = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    l->db,
		    "INSERT OR REPLACE INTO operations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
		    "strftime('%s','now'))",
		    -1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, v[i].no);
		sqlite3_bind_text(st, 4, v[i].state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, v[i].uuid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, v[i].bulk_op);
		sqlite3_bind_int64(st, 7, v[i].tries);
		sqlite3_bind_text(st, 8, v[i].before ? v[i].before : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, v[i].result ? v[i].result : "", -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		log_simple(LOG_ERROR, "ledger_failed", "%s", sqlite3_errmsg(l->db));
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
		__atomic_store_n(&l->failed, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&l->lock);
	return rc == SQLITE_OK ? 0 : -1;
}

int ledger_ops_load(struct ledger *l, long long id, const char *target,
		    void (*fn)(void *ctx, const struct ledger_op *op), void *ctx)
{
	sqlite3_stmt *st;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(
		l->db,
		"SELECT no, state, uuid, bulk_op, tries, before, result FROM operations"
		" WHERE file_id = ? AND target = ? ORDER BY no",
		-1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, target, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct ledger_op op;
			memset(&op, 0, sizeof(op));
			op.no = (unsigned)sqlite3_column_int64(st, 0);
			ledger_copy_text(op.state, sizeof(op.state), sqlite3_column_text(st, 1));
			ledger_copy_text(op.uuid, sizeof(op.uuid), sqlite3_column_text(st, 2));
			op.bulk_op = (unsigned)sqlite3_column_int64(st, 3);
			op.tries = (unsigned)sqlite3_column_int64(st, 4);
			op.before = (const char *)sqlite3_column_text(st, 5);
			op.result = (const char *)sqlite3_column_text(st, 6);
			fn(ctx, &op); /* under the lock: fn must not use the ledger */
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

long long ledger_ops_count(struct ledger *l, long long id, const char *state)
{
	return ledger_single_int(
	    l, "SELECT count(*) FROM operations WHERE file_id = ? AND state = ?", "is", id, state);
}
