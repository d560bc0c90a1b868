/*
 * orders - the incremental orders export: every order created or changed
 * since the last run, to each partner's outbound directory, once.
 *
 * Paging is by key, never by offset: each request asks for the first page of
 * orders after the last (updated_at, entity_id) seen, sorted by both
 * (filter group 1: updated_at gteq T; group 2: updated_at gt T OR entity_id
 * gt ID), so an order updated during the run moves to the end and is met
 * again, not skipped. A run ends at a page shorter than page_size or one that
 * brings nothing past the key. The file is written under a dot-name, fsync'd
 * and renamed; the watermark (a ledger note) moves only after that, so a crash
 * at any point repeats at most that run's orders and never skips one. A run
 * with nothing new writes nothing.
 */
#ifndef DG_ORDERS_H
#define DG_ORDERS_H

#include <time.h>

#include "util/buf.h"

struct conf;
struct export;
struct ledger;

struct export_result {
	unsigned long orders, items, pages;
	char file[1024]; /* the file written, "" when nothing was new */
};

/* export_orders: one run. 0, or -1 with err (Commerce failed: the watermark stays). */
int export_orders(const struct conf *c, const struct export *e, struct ledger *l,
		  struct export_result *res, struct buf *err);

#endif
