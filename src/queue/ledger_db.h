/*
 * ledger_db - inside the ledger (ledger.c, requests.c): the SQLite handle
 * behind one lock, and the statement helpers. Nothing else includes this.
 */
#ifndef DG_LEDGER_DB_H
#define DG_LEDGER_DB_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>

struct ledger {
	sqlite3 *db;
	pthread_mutex_t lock; /* one statement (or transaction) at a time */
	int failed;	      /* a write failed: the daemon must stop (atomic) */
};

/* ledger_bind_args: parameters by type letters, 's' text and 'i' int64, one per ?. */
void ledger_bind_args(sqlite3_stmt *st, const char *types, va_list ap);
/* ledger_run: one statement, no rows; a failure marks the ledger failed. 0 or -1. */
int ledger_run(struct ledger *l, const char *sql, const char *types, ...);
/* ledger_event: a line of a file's history. */
int ledger_event(struct ledger *l, long long id, const char *state, const char *message);
/* ledger_single_int: the first column of the first row, 0 when none. */
long long ledger_single_int(struct ledger *l, const char *sql, const char *types, ...);

/* ledger_copy_text: a column's text into dst ("" for NULL), cut to size. */
void ledger_copy_text(char *dst, size_t size, const unsigned char *src);

/* ledger_operations_schema: operations.c's table, created by ledger_open */
extern const char ledger_operations_schema[];

#endif
