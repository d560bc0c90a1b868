/*
 * run - one export run, logged and recorded: what the daemon's schedule and
 * `dropgate export` share.
 *
 * export_run runs an export once: an orders run, BI days (one given day,
 * or every day due, oldest first, at most 31 a run), or a stock copy. It logs each file or day
 * written (export_written) and a failure (export_failed), and records the
 * outcome in the ledger's notes (export_record), where `dropgate status`
 * shows it. A failed run moves no watermark and is recorded as "failed: WHY"
 * with its time as the last run, so the schedule tries again at its next
 * time; export_run itself never retries.
 */
#ifndef DG_EXPORT_RUN_H
#define DG_EXPORT_RUN_H

#include <signal.h>
#include <time.h>

#include "export/orders.h" /* struct export_result */
#include "export/stock.h"  /* struct stock_result */
#include "util/buf.h"

struct conf;
struct export;
struct ledger;

/* what a run did; text is what export_run recorded for status */
struct export_outcome {
	struct export_result orders; /* kind orders: the file ("" if nothing new), counts */
	unsigned days;		     /* kind bi: the days written */
	unsigned long rows;	     /* kind bi: the rows of all their files */
	struct stock_result stock;   /* kind stock: the copy ("" if nothing changed), its keys */
	char text[256];		     /* "3 orders, 5 items", "2 day(s), 40 rows", "failed: WHY" */
};

/*
 * export_run: one run of e at now, recorded. day (kind bi only): that UTC day,
 * "YYYY-MM-DD", due or not; NULL: every day due at now. stop: when set, *stop
 * ends a BI catch-up between two days (NULL: never). 0, or -1 with err.
 */
int export_run(const struct conf *c, const struct export *e, struct ledger *l, time_t now,
	       const char *day, const volatile sig_atomic_t *stop, struct export_outcome *out,
	       struct buf *err);

/*
 * export_due: is a run of e due at now? Orders: its schedule after the last
 * run recorded has come. BI: a day is not yet exported and its next day's
 * `at` has passed (a night missed while the daemon was down is due at once).
 */
int export_due(struct ledger *l, const struct export *e, time_t now);

/*
 * export_next_run: when the export is due after a run at last (0: never ran):
 * last + every, or the next local HH:MM after last (mktime with tm_isdst = -1,
 * so a day with a daylight-saving change still gets its one run).
 */
time_t export_next_run(const struct export *e, time_t last);

/* export_record: a run's time and outcome in the ledger notes that status shows. */
void export_record(struct ledger *l, const struct export *e, time_t when, const char *outcome);

#endif
