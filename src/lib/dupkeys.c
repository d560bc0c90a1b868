#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/columns.h"
#include "lib/dupkeys.h"
#include "lib/rowsum.h"
#include "util/xalloc.h"

void dupkeys_init(struct dupkeys *d, size_t max_row)
{
	memset(d, 0, sizeof(*d));
	keyset_init(&d->keys);
	buf_init(&d->key, max_row);
	buf_init(&d->msg, 64 * 1024);
	buf_init(&d->shown, max_row);
}

void dupkeys_release(struct dupkeys *d)
{
	keyset_release(&d->keys);
	buf_release(&d->key);
	buf_release(&d->msg);
	buf_release(&d->shown);
	strlist_clear(&d->member_names);
	free(d->member_base);
	memset(d, 0, sizeof(*d));
}

void dupkeys_reserve(struct dupkeys *d, size_t n)
{
	keyset_reserve(&d->keys, n);
}

size_t dupkeys_bytes(const struct dupkeys *d)
{
	return keyset_bytes(&d->keys);
}

void dupkeys_header(struct dupkeys *d, const struct columns *cols)
{
	if (cols->nkey == 0)
		return;
	d->shown_col = cols->key_cols[0];
	if (cols->nkey > 1 && strcmp(cols->out_names[cols->key_cols[0]], "source_code") == 0)
		d->shown_col = cols->key_cols[1];
}

uint64_t dupkeys_hash(struct dupkeys *d, const struct columns *cols, const struct row_layout *lay,
		      const struct strview *fields, size_t nfields, const struct strview *vals,
		      struct buf *scratch)
{
	size_t c = d->shown_col;
	uint64_t hash = 0;
	struct strview shown;

	if (cols->nkey == 0)
		return 0;

	if (lay) {
		/* a sequence's keys compare as its key store's do, without case
		   (lib/rowsum.h): the store knows SKU-1 and sku-1 as one key */
		hash = row_key_hash(lay, vals, scratch);
	} else {
		int empty = 1;
		buf_reset(&d->key);
		for (size_t k = 0; k < cols->nkey; k++) {
			const struct strview *v = &vals[cols->key_cols[k]];
			empty &= v->len == 0;
			buf_add(&d->key, v->p, v->len);
			buf_addch(&d->key, '\x1f');
		}
		if (!empty)
			hash = keyset_hash(d->key.data, d->key.len);
	}
	if (hash == 0)
		return 0;
	keyset_prefetch(&d->keys, hash);
	/* kept: the next row is read before this one is settled */
	shown = cols->out_src[c] >= 0 && (size_t)cols->out_src[c] < nfields
		    ? fields[cols->out_src[c]]
		    : vals[c];
	buf_reset(&d->shown);
	buf_add(&d->shown, shown.p, shown.len);
	d->column = cols->out_source[c] ? cols->out_source[c] : cols->out_names[c];
	return hash;
}

const char *dupkeys_insert(struct dupkeys *d, uint64_t hash, unsigned long line,
			   const struct columns *cols)
{
	uint32_t first = keyset_insert_hash(&d->keys, hash, d->line_base + (uint32_t)line);

	if (first == 0)
		return NULL;
	buf_reset(&d->msg);
	if (d->member_names.n == 0) {
		buf_printf(&d->msg, "duplicate of line %u (same ", first);
	} else {
		size_t m = d->member_names.n;
		while (m > 1 && d->member_base[m - 1] >= first)
			m--;
		buf_printf(&d->msg, "duplicate of %s:%u (same ", d->member_names.v[m - 1],
			   first - d->member_base[m - 1]);
	}
	for (size_t k = 0; k < cols->nkey; k++)
		buf_printf(&d->msg, "%s%s",
			   k == 0		 ? ""
			   : k + 1 == cols->nkey ? " and "
						 : ", ",
			   cols->out_names[cols->key_cols[k]]);
	buf_addch(&d->msg, ')');
	return buf_cstr(&d->msg);
}

void dupkeys_line(struct dupkeys *d, unsigned long line)
{
	if (line > d->member_lines)
		d->member_lines = line;
}

void dupkeys_member(struct dupkeys *d, const char *name)
{
	if (d->member_names.n) /* the lines of the member before */
		d->line_base += (uint32_t)d->member_lines + 1;
	d->member_lines = 0;
	strlist_push(&d->member_names, name);
	d->member_base = xreallocarray(d->member_base, d->member_names.n, sizeof(*d->member_base));
	d->member_base[d->member_names.n - 1] = d->line_base;
}
