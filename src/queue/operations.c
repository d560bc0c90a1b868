/*
 * operations - the ledger's table of REST operations (operations.h). The table
 * is in each backend's schema (db_sqlite.c, db_pg.c).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/operations.h"
#include "util/log.h"

int ledger_ops_put(struct ledger *l, long long id, const char *target, const struct ledger_op *v,
		   size_t n)
{
	struct db_stmt *st = NULL;
	int rc;

	if (n == 0)
		return 0;
	rc = ledger_fenced_begin(l, id); /* this node still holds the file (nodes.h) */
	if (rc == 0 &&
	    (st = db_prepare(
		 l->db,
		 "INSERT INTO operations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
		 "strftime('%s','now')) ON CONFLICT (file_id, target, no) DO UPDATE SET "
		 "state = excluded.state, uuid = excluded.uuid, bulk_op = excluded.bulk_op, "
		 "tries = excluded.tries, before = excluded.before, result = excluded.result, "
		 "changed = excluded.changed")) == NULL)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		db_bind_int64(st, 1, id);
		db_bind_text(st, 2, target);
		db_bind_int64(st, 3, v[i].no);
		db_bind_text(st, 4, v[i].state);
		db_bind_text(st, 5, v[i].uuid);
		db_bind_int64(st, 6, v[i].bulk_op);
		db_bind_int64(st, 7, v[i].tries);
		db_bind_text(st, 8, v[i].before ? v[i].before : "");
		db_bind_text(st, 9, v[i].result ? v[i].result : "");
		rc = db_step_batch(st);
	}
	db_finalize(st);
	return ledger_write_end(l, rc) == 0 ? 0 : -1;
}

int ledger_ops_load(struct ledger *l, long long id, const char *target,
		    void (*fn)(void *ctx, const struct ledger_op *op), void *ctx)
{
	struct db_stmt *st;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT no, state, uuid, bulk_op, tries, before, result FROM "
				    "operations WHERE file_id = ? AND target = ? ORDER BY no")) !=
	    NULL) {
		db_bind_int64(st, 1, id);
		db_bind_text(st, 2, target);
		while (db_step(st) == DB_ROW) {
			struct ledger_op op;
			memset(&op, 0, sizeof(op));
			op.no = (unsigned)db_column_int64(st, 0);
			ledger_copy_text(op.state, sizeof(op.state), db_column_text(st, 1));
			ledger_copy_text(op.uuid, sizeof(op.uuid), db_column_text(st, 2));
			op.bulk_op = (unsigned)db_column_int64(st, 3);
			op.tries = (unsigned)db_column_int64(st, 4);
			op.before = db_column_text(st, 5);
			op.result = db_column_text(st, 6);
			fn(ctx, &op); /* under the lock: fn must not use the ledger */
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

long long ledger_ops_count(struct ledger *l, long long id, const char *state)
{
	return ledger_single_int(
	    l, "SELECT count(*) FROM operations WHERE file_id = ? AND state = ?", "is", id, state);
}
