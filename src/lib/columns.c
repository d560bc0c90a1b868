/*
 * columns - the header line checked and bound (see columns.h): to the mapping
 * when the feed has one, else to the entity's column table. Each problem is a
 * file message; nothing here rejects a row or looks at one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/columns.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "lib/reject.h"
#include "util/xalloc.h"

/* keep_names: the header's names (header = no: the positions), replacing an earlier member's. */
static void keep_names(struct columns *c, const struct feed *f, const struct strview *names,
		       size_t n)
{
	for (size_t i = 0; c->header && i < c->ncols; i++)
		free(c->header[i]);
	free(c->header);
	c->ncols = n;
	c->header = xcalloc(n, sizeof(*c->header));
	for (size_t i = 0; i < n; i++)
		c->header[i] =
		    f->header ? xstrndup(names[i].p, names[i].len) : xasprintf("%zu", i + 1);
}

/* names_ok: every column named, in the file's encoding, once. */
static int names_ok(const struct columns *c, const struct strview *names, size_t n,
		    unsigned long line, const char *encoding, struct reject *rj)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		if (names[i].len == 0) {
			reject_message(rj, "line %lu: column %zu of the header has no name", line,
				       i + 1);
			bad = 1;
		}
		if (memmem(names[i].p, names[i].len, "\xef\xbf\xbd", 3)) {
			reject_message(rj,
				       "line %lu: the header's column %zu has bytes that are "
				       "not valid %s",
				       line, i + 1, encoding);
			bad = 1;
		}
		for (size_t j = 0; j < i && names[i].len; j++)
			if (strcmp(c->header[i], c->header[j]) == 0) {
				reject_message(rj,
					       "line %lu: column '%s' appears twice in the "
					       "header (columns %zu and %zu)",
					       line, c->header[i], j + 1, i + 1);
				bad = 1;
			}
	}
	return bad ? -1 : 0;
}

/* same_as_first: a later member of an archive, no mapping: the same columns, or the file goes. */
static int same_as_first(const struct columns *c, unsigned long line, struct reject *rj)
{
	int same = c->ncols == c->nout;

	for (size_t i = 0; same && i < c->ncols; i++)
		same = strcmp(c->header[i], c->out_names[i]) == 0;
	if (!same)
		reject_message(rj,
			       "line %lu: the header differs from the first member's; the "
			       "members of one archive are parts of one file",
			       line);
	return same ? 0 : -1;
}

static void set_outputs(struct columns *c, size_t n)
{
	c->nout = n;
	c->out_names = xcalloc(n, sizeof(*c->out_names));
	c->out_source = xcalloc(n, sizeof(*c->out_source));
	c->out_src = xcalloc(n, sizeof(*c->out_src));
	c->rules = xcalloc(n, sizeof(*c->rules));
	c->key_cols = xcalloc(n, sizeof(*c->key_cols));
}

/* bind_mapping: the mapping's columns, each source found in the header. */
static int bind_mapping(struct columns *c, const struct feed *f, unsigned long line,
			struct reject *rj)
{
	size_t n = mapping_count(f->map);
	struct strview *names = xcalloc(c->ncols, sizeof(*names));
	struct buf err = BUF_INIT(64 * 1024);
	int rc;

	for (size_t i = 0; i < c->ncols; i++)
		names[i] = sv_from(c->header[i]);
	if (c->srcidx == NULL)
		c->srcidx = xcalloc(n, sizeof(*c->srcidx));
	rc = mapping_bind(f->map, names, c->ncols, !f->header, c->srcidx, &err);
	if (rc < 0)
		reject_message(rj, "line %lu: %s", line, buf_cstr(&err));
	free(names);
	buf_release(&err);
	if (rc < 0)
		return -1;
	if (c->nout > 0) { /* a later member: the same mapping, bound to its header */
		for (size_t i = 0; i < n; i++)
			c->out_src[i] = c->srcidx[i];
		return 0;
	}
	set_outputs(c, n);
	for (size_t i = 0; i < n; i++) {
		c->out_names[i] = mapping_column(f->map, i);
		c->out_source[i] = mapping_source(f->map, i);
		c->out_src[i] = c->srcidx[i];
	}
	return 1;
}

/* take_entity_columns: no mapping: the header's own names, which must be the entity's. */
static int take_entity_columns(struct columns *c, const struct feed *f, unsigned long line,
			       struct reject *rj)
{
	const struct entity *e = f->entity;
	int missing = 0;

	set_outputs(c, c->ncols);
	c->own_names = 1;
	for (size_t i = 0; i < c->ncols; i++) {
		c->out_names[i] = xstrdup(c->header[i]);
		c->out_source[i] = c->out_names[i];
		c->out_src[i] = (int)i;
	}
	for (const struct column_rule *r = e->columns; r->name; r++) {
		int del = strcmp(f->behavior, "delete") == 0;
		int needed = (r->flags & COL_REQUIRED) || ((r->flags & COL_ADD) && !del);
		int found = 0;
		for (size_t i = 0; i < c->ncols; i++)
			found |= strcmp(c->header[i], r->name) == 0;
		if (needed && !found) {
			reject_message(rj,
				       "line %lu: required column '%s' is missing from the "
				       "header (%s needs it)",
				       line, r->name, e->name);
			missing = 1;
		}
	}
	for (size_t i = 0; i < c->ncols; i++) {
		if (!entity_column_name_ok(c->header[i]) ||
		    (!e->open_columns && entity_column(e, c->header[i]) == NULL)) {
			reject_message(rj,
				       "line %lu: column '%s' is not a %s column; map the "
				       "partner's columns with map.COLUMN keys",
				       line, c->header[i], e->name);
			missing = 1;
		}
	}
	return missing ? -1 : 1;
}

/* find_rules: each Commerce column's rule, and which of them form the key. */
static void find_rules(struct columns *c, const struct entity *e)
{
	for (size_t i = 0; i < c->nout; i++) {
		c->rules[i] = entity_column(e, c->out_names[i]);
		if (c->rules[i] && (c->rules[i]->flags & COL_KEY))
			c->key_cols[c->nkey++] = i;
	}
}

int columns_take_header(struct columns *c, const struct feed *f, const struct strview *names,
			size_t n, unsigned long line, const char *encoding, struct reject *rj)
{
	int rc;

	keep_names(c, f, names, n);
	if (f->header && names_ok(c, names, n, line, encoding, rj) < 0)
		return -1;
	if (c->nout > 0 && !f->map)
		return same_as_first(c, line, rj);
	rc = f->map ? bind_mapping(c, f, line, rj) : take_entity_columns(c, f, line, rj);
	if (rc == 1)
		find_rules(c, f->entity);
	return rc;
}

void columns_release(struct columns *c)
{
	for (size_t i = 0; c->header && i < c->ncols; i++)
		free(c->header[i]);
	free(c->header);
	for (size_t i = 0; c->own_names && i < c->nout; i++)
		free((char *)c->out_names[i]);
	free(c->out_names);
	free(c->out_source);
	free(c->out_src);
	free(c->rules);
	free(c->key_cols);
	free(c->srcidx);
	memset(c, 0, sizeof(*c));
}
