#include "config.h"

#include <stdarg.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/ledger_rows.h"

int ledger_rows(struct ledger *l, const char *sql, ledger_rows_fn fn, void *ctx, const char *types,
		...)
{
	struct db_stmt *st;
	va_list ap;
	int rc = DB_ERROR;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, sql)) != NULL) {
		va_start(ap, types);
		db_bind_va(st, types, ap);
		va_end(ap);
		while ((rc = db_step(st)) == DB_ROW) {
			const char *col[LEDGER_ROWS_MAX_COLS];
			int n = db_column_count(st);

			if (n > LEDGER_ROWS_MAX_COLS)
				n = LEDGER_ROWS_MAX_COLS;
			for (int i = 0; i < n; i++) {
				const char *t = db_column_text(st, i);
				col[i] = t ? t : "";
			}
			fn(ctx, (size_t)n, col);
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc == DB_DONE ? 0 : -1;
}
