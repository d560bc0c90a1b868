/*
 * rowsum - a Commerce row's key and the digest of its values, as the key
 * store knows them (queue/keys.h). The parser child sums each row of a
 * sequence's file as it batches it (lib/batch.h, struct batch_sum), so that
 * the sift reads sums, not rows; the sift, the store and `dropgate baseline`
 * sum rows the same way.
 *
 * The key is the entity's key columns' values, in the entity's order, as one
 * CSV record ("default,SKU-1"; a key column the row lacks is empty); a row
 * whose key columns are all empty has no key. The digest is hash64 (util/
 * keyset.h) of every other column of the row as `name=value`, sorted by
 * name, joined by 0x1f: the same values under another column order give the
 * same digest, another set of columns another one. `dropgate baseline`
 * computes Commerce's values the same way.
 */
#ifndef DG_ROWSUM_H
#define DG_ROWSUM_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/strview.h"

struct entity;

#define LAYOUT_MAX_KEY 8

struct row_layout {
	size_t ncols;
	char **names;			/* the header */
	size_t *name_len;		/* strlen of each */
	size_t nkey;			/* the entity's key columns */
	size_t key_col[LAYOUT_MAX_KEY]; /* their index in the header, ncols: not there */
	size_t nval;
	size_t *val_col; /* the other columns, sorted by name */
};

/* layout_init: the layout of a header. */
void layout_init(struct row_layout *lay, const struct entity *e, const struct strview *names,
		 size_t n);
void layout_release(struct row_layout *lay);
/* layout_is_key: is header column i a key column? */
int layout_is_key(const struct row_layout *lay, size_t i);
/* key_hash: the hash a key's text is stored under, of the text with ASCII letters in lower
   case (Commerce's keys compare without case: MySQL's _ci collations); never 0. */
uint64_t key_hash(const char *key, size_t len);
/* row_key: the key's CSV record into key (reset first); 0 when the row has no key, else its
   key_hash. */
uint64_t row_key(const struct row_layout *lay, const struct strview *v, struct buf *key);
/* row_key_hash: row_key's hash alone (scratch: reset and reused, left folded). */
uint64_t row_key_hash(const struct row_layout *lay, const struct strview *v, struct buf *scratch);
/* row_digest: the digest of the row's value columns (scratch: reset and reused). */
uint64_t row_digest(const struct row_layout *lay, const struct strview *v, struct buf *scratch);

#endif
