/*
 * bi - the nightly BI extract: one folder a UTC day, outbound/bi/YYYY-MM-DD/,
 * with a gzip CSV per entity (orders and order items created that day,
 * customers and products changed that day) and manifest.json (entity, file,
 * rows, bytes, sha256, period, generated_at) written last. The day is built
 * in a dot-folder and swapped in whole (renameat2 RENAME_EXCHANGE when the
 * day exists), so a BI loader never sees half a day, and a re-run replaces it.
 */
#ifndef DG_BI_H
#define DG_BI_H

#include <time.h>

#include "util/buf.h"

struct conf;
struct export;
struct ledger;

/* export_bi: the day "YYYY-MM-DD" (UTC). 0, or -1 with err; *rows counts all files. */
int export_bi(const struct conf *c, const struct export *e, struct ledger *l, const char *day,
	      unsigned long *rows, struct buf *err);
/* bi_next_day: the next day to export: after the last one done, up to yesterday (UTC); 0 when none. */
int bi_next_day(struct ledger *l, const struct export *e, time_t now, char day[11]);

/* bi_day_due: is day ready to export now: its next day's `at` (local) has passed? */
int bi_day_due(const struct export *e, const char *day, time_t now);

#endif
