/*
 * stock - kind = stock exports: the confirmed picture of a sequence copied to
 * the sales channels.
 *
 * One CSV, `stock-SEQUENCE-YYYYMMDDTHHMMSSZ.csv` (UTC, the time of writing),
 * in the first listed partner's export dir (default outbound/stock), linked
 * into the others': the key columns (the entity's order), the value columns
 * (the entity's order, then any other in the order first met), and `stamp`
 * (ISO 8601 UTC, when the values were true), one row per key, from every
 * partner's key store scope of the sequence for the export's target, the
 * newest stamp winning (queue/picture.h). A key's cell for a column its last
 * confirmed row did not carry is empty. Published atomically (util/publish);
 * written only when the content differs from the last copy's, whose SHA-256
 * is the export's watermark (note export:NAME): nothing changed, no file.
 *
 * Runs never overlap (a lock inside): the daemon's schedule and the end of a
 * full snapshot may ask at the same moment.
 */
#ifndef DG_STOCK_H
#define DG_STOCK_H

#include <time.h>

#include "util/buf.h"

struct conf;
struct export;
struct ledger;

struct stock_result {
	char file[4096];    /* the copy written, "" when nothing changed */
	unsigned long keys; /* its rows */
};

/* export_stock: one run of a kind = stock export at now. 0, or -1 with err. */
int export_stock(const struct conf *c, const struct export *e, struct ledger *l, time_t now,
		 struct stock_result *res, struct buf *err);

/*
 * stock_export_after_full: a full snapshot of sequence was confirmed: every
 * kind = stock export of it runs now, logged and recorded as its schedule
 * would run it (export/run.h). The number of runs that failed.
 */
int stock_export_after_full(const struct conf *c, struct ledger *l, const char *sequence,
			    time_t now);

#endif
