/*
 * dupkeys - the duplicate-key index of one file (pipeline.c): each row's key
 * hashed, the line each key was first seen on, and the message that names
 * it for a later row with the same key ("duplicate of line 12 (same sku and
 * source_code)", "duplicate of part1.csv:12 ..." in an archive).
 *
 * A key is the row's key columns (columns.h). In a sequence's feed it is the
 * key the sequence's store knows (lib/rowsum.h: without ASCII case, SKU-1
 * and sku-1 are one key, as in Commerce); elsewhere the values as they are.
 *
 * The index holds one number a key: the line plus the lines of the archive
 * members before it, so that a duplicate can name member and line. Memory is
 * the index's (util/keyset.h), about 16 bytes a key.
 */
#ifndef DG_DUPKEYS_H
#define DG_DUPKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/keyset.h"
#include "util/strlist.h"
#include "util/strview.h"

struct columns;
struct row_layout;

struct dupkeys {
	struct keyset keys;
	struct buf key;	    /* a row's key, its values joined */
	struct buf msg;	    /* the last duplicate's message */
	size_t shown_col;   /* the key column a duplicate is told by */
	struct buf shown;   /* the last row's value there, as the partner wrote it */
	const char *column; /* and the partner's name of that column */
	struct strlist member_names;
	uint32_t *member_base;	    /* first number of each member, by index - 1 */
	uint32_t line_base;	    /* this member's */
	unsigned long member_lines; /* the highest line seen in this member */
};

void dupkeys_init(struct dupkeys *d, size_t max_row);
void dupkeys_release(struct dupkeys *d);
/* dupkeys_reserve: room for about n keys at once; dupkeys_bytes: the index's memory. */
void dupkeys_reserve(struct dupkeys *d, size_t n);
size_t dupkeys_bytes(const struct dupkeys *d);

/* dupkeys_header: a header's key columns (cols, once it took the header): a duplicate is
   told by the one that varies, sku rather than source_code. */
void dupkeys_header(struct dupkeys *d, const struct columns *cols);
/*
 * dupkeys_hash: the key of a row (its values vals, its fields as the partner
 * wrote them; lay: a sequence's layout, NULL outside one; scratch: lay's), its
 * slot in the index asked for ahead of dupkeys_insert, and what a duplicate
 * would be told by (shown, column). 0 when every key column is empty: such a
 * row is no duplicate.
 */
uint64_t dupkeys_hash(struct dupkeys *d, const struct columns *cols, const struct row_layout *lay,
		      const struct strview *fields, size_t nfields, const struct strview *vals,
		      struct buf *scratch);
/* dupkeys_insert: the key (dupkeys_hash's) seen on line of this member. NULL when it is new,
   else the message naming where it was first seen (valid until the next call). */
const char *dupkeys_insert(struct dupkeys *d, uint64_t hash, unsigned long line,
			   const struct columns *cols);
/* dupkeys_line: a row ends on line of this member. */
void dupkeys_line(struct dupkeys *d, unsigned long line);
/* dupkeys_member: an archive member begins. */
void dupkeys_member(struct dupkeys *d, const char *name);

#endif
