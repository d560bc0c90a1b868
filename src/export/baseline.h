/*
 * baseline - a key store scope filled from what Commerce holds now, so that
 * even the first snapshot of a sequence sends only what differs.
 *
 * For the partner's feeds of the sequence (the first with mode = full, else
 * the first), the row each would send is rebuilt from Commerce's answer:
 * stock_sources from the MSI source items (GET /V1/inventory/source-items),
 * catalog_product from the catalog (GET /V1/products: top-level fields and
 * custom_attributes by attribute_code), over the columns the feed maps, in
 * its order. Each becomes an entry as the sift would store it once Commerce
 * confirmed the row (lib/rowsum.h: the key, the digest of the values, the
 * header and record), stamped 0, so that anything a file brings is newer; an
 * entry a file already wrote is left as it is (keys_put).
 *
 * Commerce is walked by key, never by offset: sorted by sku (then
 * source_code), each request asks for page 1 past the last key seen, and the
 * walk ends at a page shorter than the page size, one holding every match
 * left (total_count), or one bringing no key past the last: never on an
 * empty page alone, which a clamped currentPage never gives.
 *
 * Numbers are written as the number() filter writes them (shortest exact
 * decimal: 10, 10.5), flags as 0/1; a column baseline cannot read from
 * Commerce (attribute_set_code, product_websites, ...) is empty, so rows with
 * it differ and are sent once. A feed whose source_code is a literal reads
 * only that source's items.
 */
#ifndef DG_BASELINE_H
#define DG_BASELINE_H

#include "util/buf.h"

struct conf;
struct ledger;

enum baseline_status {
	BASELINE_DONE = 0,
	BASELINE_REFUSED = -1, /* nothing to fill: no such feed, target or entity (err) */
	BASELINE_LEDGER = -2,  /* the ledger failed */
	BASELINE_COMMERCE = -3 /* Commerce failed or answered what is no search */
};

struct baseline_result {
	const char *entity;  /* the feed's entity */
	const char *feed;    /* whose columns the entries carry */
	unsigned long keys;  /* entries written (or left, being newer) */
	unsigned long pages; /* requests answered */
};

/*
 * baseline_fill: the scope (partner, sequence, target) from Commerce, in pages
 * of page_size. Entries go in a transaction per page: a walk cut short keeps
 * what it wrote, and a second run writes the same again.
 */
enum baseline_status baseline_fill(const struct conf *c, struct ledger *l, const char *partner,
				   const char *sequence, const char *target,
				   unsigned long page_size, struct baseline_result *res,
				   struct buf *err);

#endif
