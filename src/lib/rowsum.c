#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/batch.h"
#include "lib/entity.h"
#include "lib/rowsum.h"
#include "util/keyset.h"
#include "util/xalloc.h"

/* by_name: qsort_r's, the layout its context (two files' sifts run in two threads) */
static int by_name(const void *a, const void *b, void *ctx)
{
	const struct row_layout *lay = ctx;

	return strcmp(lay->names[*(const size_t *)a], lay->names[*(const size_t *)b]);
}

void layout_init(struct row_layout *lay, const struct entity *e, const struct strview *names,
		 size_t n)
{
	memset(lay, 0, sizeof(*lay));
	lay->ncols = n;
	lay->names = xcalloc(n ? n : 1, sizeof(*lay->names));
	lay->name_len = xcalloc(n ? n : 1, sizeof(*lay->name_len));
	for (size_t i = 0; i < n; i++) {
		lay->names[i] = xstrndup(names[i].p, names[i].len);
		lay->name_len[i] = strlen(lay->names[i]);
	}
	for (const struct column_rule *r = e->columns; r->name && lay->nkey < LAYOUT_MAX_KEY; r++) {
		if (!(r->flags & COL_KEY))
			continue;
		lay->key_col[lay->nkey] = n;
		for (size_t i = 0; i < n; i++)
			if (strcmp(lay->names[i], r->name) == 0)
				lay->key_col[lay->nkey] = i;
		lay->nkey++;
	}
	lay->val_col = xcalloc(n ? n : 1, sizeof(*lay->val_col));
	for (size_t i = 0; i < n; i++)
		if (!layout_is_key(lay, i))
			lay->val_col[lay->nval++] = i;
	qsort_r(lay->val_col, lay->nval, sizeof(*lay->val_col), by_name, lay);
}

void layout_release(struct row_layout *lay)
{
	for (size_t i = 0; i < lay->ncols; i++)
		free(lay->names[i]);
	free(lay->names);
	free(lay->name_len);
	free(lay->val_col);
	memset(lay, 0, sizeof(*lay));
}

int layout_is_key(const struct row_layout *lay, size_t i)
{
	for (size_t k = 0; k < lay->nkey; k++)
		if (lay->key_col[k] == i)
			return 1;
	return 0;
}

/* fold: ASCII letters to lower case, in place */
static void fold(char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
}

uint64_t key_hash(const char *key, size_t len)
{
	char small[256], *folded = len <= sizeof(small) ? small : xmalloc(len);
	uint64_t h;

	small[0] = '\0'; /* (an empty key reads nothing of it) */
	memcpy(folded, key, len);
	fold(folded, len);
	h = hash64(folded, len);
	if (folded != small)
		free(folded);
	return h ? h : 1; /* 0 is no key */
}

/* key_text: the key's CSV record into key (reset first); 0 when every key column is empty */
static int key_text(const struct row_layout *lay, const struct strview *v, struct buf *key)
{
	int any = 0;

	buf_reset(key);
	for (size_t k = 0; k < lay->nkey; k++) {
		size_t c = lay->key_col[k];
		const char *p = c < lay->ncols ? v[c].p : "";
		size_t len = c < lay->ncols ? v[c].len : 0;
		if (k)
			buf_add(key, ",", 1);
		csv_append_field(key, p, len);
		any |= len > 0;
	}
	return any;
}

uint64_t row_key(const struct row_layout *lay, const struct strview *v, struct buf *key)
{
	return key_text(lay, v, key) ? key_hash(key->data, key->len) : 0;
}

/* the bytes that make a CSV field quoted (batch.c's): key_text's text then differs from
   the bytes themselves */
static const unsigned char quote_trigger[256] = {[','] = 1, ['"'] = 1, ['\n'] = 1, ['\r'] = 1};

uint64_t row_key_hash(const struct row_layout *lay, const struct strview *v, struct buf *scratch)
{
	size_t need = lay->nkey;
	int any = 0;
	unsigned char *o;
	uint64_t h;

	/* the parse's hot path, a row at a time: key_text's text folded as it is made,
	   in one pass, when no field needs quotes (one that does goes the long way: the
	   same text, the same hash) */
	for (size_t k = 0; k < lay->nkey; k++)
		need += lay->key_col[k] < lay->ncols ? v[lay->key_col[k]].len : 0;
	buf_reset(scratch);
	if (buf_reserve(scratch, need) < 0)
		goto the_long_way;
	o = (unsigned char *)scratch->data;
	for (size_t k = 0; k < lay->nkey; k++) {
		size_t c = lay->key_col[k];
		const unsigned char *p = c < lay->ncols ? (const unsigned char *)v[c].p : NULL;
		size_t len = p ? v[c].len : 0;
		if (k)
			*o++ = ',';
		for (size_t i = 0; i < len; i++) {
			unsigned char b = p[i];
			if (quote_trigger[b])
				goto the_long_way;
			*o++ = (unsigned char)((unsigned)(b - 'A') < 26u ? b + 32 : b);
		}
		any |= len > 0;
	}
	if (!any)
		return 0;
	h = hash64(scratch->data, (size_t)(o - (unsigned char *)scratch->data));
	return h ? h : 1;
the_long_way:
	if (!key_text(lay, v, scratch))
		return 0;
	fold(scratch->data, scratch->len);
	h = hash64(scratch->data, scratch->len);
	return h ? h : 1;
}

uint64_t row_digest(const struct row_layout *lay, const struct strview *v, struct buf *scratch)
{
	buf_reset(scratch);
	for (size_t k = 0; k < lay->nval; k++) {
		size_t c = lay->val_col[k];
		if (k)
			buf_add(scratch, "\x1f", 1);
		buf_add(scratch, lay->names[c], lay->name_len[c]);
		buf_add(scratch, "=", 1);
		buf_add(scratch, v[c].p, v[c].len);
	}
	return hash64(scratch->data, scratch->len);
}
