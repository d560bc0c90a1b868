/*
 * search - Commerce's searchCriteria walked by key, for the exports.
 *
 * Each request asks for the first page after the last (field, idfield) seen,
 * sorted by both: filter group "field gteq T", group "field gt T OR idfield gt
 * ID", and with before, group "field lt before". Records updated while the
 * walk goes move behind the key and are met again, not skipped (offset paging
 * would shift them out of sight), and an out-of-range page cannot repeat
 * anything because page 1 is all that is ever asked for. The walk ends at a
 * page shorter than page_size or one that brings nothing past the key.
 */
#ifndef DG_SEARCH_H
#define DG_SEARCH_H

#include <jansson.h>

#include "util/buf.h"

struct commerce_client;

struct search_key {
	char t[64];   /* the field's value, "YYYY-MM-DD HH:MM:SS" */
	long long id; /* the id, for records sharing t */
};

/*
 * search_by_key: each record past *key (and before `before`, when given) to
 * each(), in key order; *key ends at the last one. 0, or -1 with err (each()
 * failing, or Commerce).
 */
int search_by_key(struct commerce_client *c, const char *resource, const char *field,
		  const char *idfield, struct search_key *key, const char *before,
		  unsigned long page_size, int (*each)(void *ctx, const json_t *o), void *ctx,
		  unsigned long *pages, struct buf *err);

/* json_text: a JSON value as the text a file shows: strings as they are, numbers
   in plain form, arrays (street lines) joined by blanks, "" for null. */
void json_text(struct buf *out, const json_t *v);

#endif
