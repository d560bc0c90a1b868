/*
 * ledger_rows - read-only questions to the ledger for the operators' views
 * (metrics, status progress, late feeds): one SELECT, each row's columns as
 * text to a callback. It never writes, so a failure here never marks the
 * ledger failed; it returns -1 and the caller shows what it has.
 */
#ifndef DG_LEDGER_ROWS_H
#define DG_LEDGER_ROWS_H

#include <stddef.h>

struct ledger;

#define LEDGER_ROWS_MAX_COLS 8

/* ledger_rows_fn: one row; col[i] is "" for NULL. */
typedef void (*ledger_rows_fn)(void *ctx, size_t ncols, const char *const *col);

/* ledger_rows: sql with parameters by type letters ('s' text, 'i' int64, one per ?).
   0, or -1 when the statement could not run. */
int ledger_rows(struct ledger *l, const char *sql, ledger_rows_fn fn, void *ctx, const char *types,
		...);

#endif
