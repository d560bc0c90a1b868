#include "config.h"

#include <stdarg.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/ledger_rows.h"

int ledger_rows(struct ledger *l, const char *sql, ledger_rows_fn fn, void *ctx, const char *types,
		...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		va_start(ap, types);
		ledger_bind_args(st, types, ap);
		va_end(ap);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *col[LEDGER_ROWS_MAX_COLS];
			int n = sqlite3_column_count(st);

			if (n > LEDGER_ROWS_MAX_COLS)
				n = LEDGER_ROWS_MAX_COLS;
			for (int i = 0; i < n; i++) {
				const unsigned char *t = sqlite3_column_text(st, i);
				col[i] = t ? (const char *)t : "";
			}
			fn(ctx, (size_t)n, col);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}
