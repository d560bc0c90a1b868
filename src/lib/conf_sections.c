/*
 * conf_sections - each section's struct, made with its keys' defaults when
 * its header is read, and checked at its end for what no single key can say:
 * what is required, what contradicts what, what a feed's entity asks of its
 * map.* keys. After the last section, the references between sections.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/conf_loader.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "util/xalloc.h"

struct target *section_new_target(struct loader *ld, const char *name, int line)
{
	struct conf *c = ld->c;
	struct target *t;

	c->targets = xreallocarray(c->targets, c->ntargets + 1, sizeof(*c->targets));
	t = &c->targets[c->ntargets++];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->line = line;
	keys_default(ld, conf_commerce_keys, t);
	return t;
}

struct feed *section_new_feed(struct loader *ld, const char *name, int line)
{
	struct conf *c = ld->c;
	struct feed *f;

	c->feeds = xreallocarray(c->feeds, c->nfeeds + 1, sizeof(*c->feeds));
	f = &c->feeds[c->nfeeds++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->line = line;
	keys_default(ld, conf_feed_keys, f);
	return f;
}

struct export *section_new_export(struct loader *ld, const char *name, int line)
{
	struct conf *c = ld->c;
	struct export *e;

	c->exports = xreallocarray(c->exports, c->nexports + 1, sizeof(*c->exports));
	e = &c->exports[c->nexports++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	e->at_minutes = -1; /* at unset (every's unset is its 0) */
	e->line = line;
	keys_default(ld, conf_export_keys, e);
	return e;
}

void section_finish_export(struct loader *ld, struct export *e)
{
	const char *sec = ld->section;
	unsigned long line = ld->cur_section_line;
	static const char *const bi_entities[] = {"orders", "order_items", "customers", "products",
						  NULL};

	keys_derive(ld, conf_export_keys, e);
	if (e->partners.n == 0)
		conf_error(ld, line,
			   "[%s] partners is required: whose outbound tree receives the files",
			   sec);
	if (e->kind == EXPORT_STOCK && e->sequence == NULL)
		conf_error(ld, line, "[%s] kind = stock needs sequence: whose picture to copy", sec);
	if (e->every && e->at_minutes >= 0)
		conf_error(ld, line, "[%s] give every or at, not both", sec);
	if (!e->every && e->at_minutes < 0)
		conf_error(ld, line, "[%s] every (e.g. 2m) or at (e.g. 02:00) is required", sec);
	for (size_t i = 0; i < e->entities.n; i++) {
		int known = 0;
		for (const char *const *b = bi_entities; *b; b++)
			known |= strcmp(*b, e->entities.v[i]) == 0;
		if (!known)
			conf_error(ld, line,
				   "[%s] entities: '%s' is not one of orders, order_items, "
				   "customers, products",
				   sec, e->entities.v[i]);
	}
}

void section_finish_target(struct loader *ld, struct target *t)
{
	const char *sec = ld->section;

	if (t->url == NULL)
		conf_error(ld, ld->cur_section_line, "[%s] url is required", sec);
	else if (strncmp(t->url, "http://", 7) != 0 && strncmp(t->url, "https://", 8) != 0)
		conf_error(ld, ld->cur_section_line,
			   "[%s] url '%s' must start with https:// or http://", sec, t->url);
	if (t->token_file && (t->username || t->password_file))
		conf_error(ld, ld->cur_section_line,
			   "[%s] give token_file, or username and password_file, not both", sec);
	else if (!t->token_file && !(t->username && t->password_file))
		conf_error(ld, ld->cur_section_line,
			   "[%s] token_file, or username and password_file, is required", sec);
}

/* feed_keys_agree: what the feed's keys, read, say of each other. */
static void feed_keys_agree(struct loader *ld, struct feed *f)
{
	const char *sec = ld->section;
	unsigned long line = ld->cur_section_line;

	if (f->dir == NULL)
		conf_error(ld, line, "[%s] dir is required", sec);
	if (f->entity == NULL) {
		conf_error(ld, line, "[%s] entity (or operation) is required", sec);
	} else if (!entity_behavior_ok(f->entity, f->behavior)) {
		struct buf names = BUF_INIT(4096);
		for (const char *const *b = f->entity->behaviors; *b; b++)
			buf_printf(&names, "%s%s", b == f->entity->behaviors ? "" : ", ", *b);
		conf_error(ld, line, "[%s] behavior '%s' is not one %s takes: %s", sec, f->behavior,
			   f->entity->name, buf_cstr(&names));
		buf_release(&names);
	}
	if (f->delimiter == f->quote)
		conf_error(ld, line, "[%s] delimiter and quote are the same character", sec);
	if (f->format == FORMAT_XML && f->record == NULL)
		conf_error(ld, line,
			   "[%s] format = xml needs record (e.g. record = /Products/Product)", sec);
	if (f->format == FORMAT_CSV && (f->record || f->ns_prefixes.n))
		conf_error(ld, line, "[%s] record and namespace.* apply to format = xml only", sec);
	if (f->format == FORMAT_XML && ld->nmaps == 0)
		conf_error(ld, line,
			   "[%s] format = xml needs map.COLUMN keys: each source is a path "
			   "in the record (map.sku = @sku)",
			   sec);
	if (!f->header && ld->nmaps == 0 && f->format == FORMAT_CSV)
		conf_error(ld, line,
			   "[%s] header = no needs map.COLUMN keys that name columns by "
			   "position (map.sku = 1 | trim)",
			   sec);
}

/* feed_compile_maps: the section's map.COLUMN keys into f->map; how many were refused. */
static int feed_compile_maps(struct loader *ld, struct feed *f)
{
	const char *sec = ld->section;
	int before = ld->nerr;

	if (ld->nmaps)
		f->map = mapping_new();
	for (size_t i = 0; i < ld->nmaps; i++) {
		struct pending_map *pm = &ld->maps[i];
		struct buf e = BUF_INIT(4096);

		if (!entity_column_name_ok(pm->column))
			conf_error(ld, pm->line,
				   "[%s] map.%s: Commerce column names are lower case letters, "
				   "digits and '_'",
				   sec, pm->column);
		else if (f->entity && !f->entity->open_columns &&
			 entity_column(f->entity, pm->column) == NULL)
			conf_error(ld, pm->line, "[%s] map.%s: %s has no column '%s'", sec,
				   pm->column, f->entity->name, pm->column);
		else if (mapping_add(f->map, pm->column, pm->expr, ld->basedir, &ld->c->files, &e) <
			 0)
			conf_error(ld, pm->line, "[%s] map.%s: %s", sec, pm->column, buf_cstr(&e));
		buf_release(&e);
	}
	return ld->nerr - before;
}

/* feed_columns_mapped: each column the entity needs of this behavior has its map. key. */
static void feed_columns_mapped(struct loader *ld, const struct feed *f)
{
	int del = f->behavior && strcmp(f->behavior, "delete") == 0;

	for (const struct column_rule *r = f->entity->columns; r->name; r++) {
		int needed = (r->flags & COL_REQUIRED) || ((r->flags & COL_ADD) && !del);
		int mapped = 0;
		for (size_t i = 0; i < mapping_count(f->map); i++)
			mapped |= strcmp(mapping_column(f->map, i), r->name) == 0;
		if (needed && !mapped)
			conf_error(ld, ld->cur_section_line,
				   "[%s] %s needs the column '%s': add map.%s", ld->section,
				   f->entity->name, r->name, r->name);
	}
}

/*
 * feed_sequence_agrees: diff and absent.* need a key store, so a sequence
 * (the feed's own name when not given); absent.* is for mode = full and
 * names the entity's value columns, never its key.
 */
static void feed_sequence_agrees(struct loader *ld, struct feed *f)
{
	const char *sec = ld->section;
	unsigned long line = ld->cur_section_line;

	if (f->sequence == NULL && (f->diff || f->absent_cols.n || f->stamp.spec))
		f->sequence = xstrdup(f->name);
	if (f->absent_cols.n && f->mode != MODE_FULL)
		conf_error(ld, line, "[%s] absent.* applies to mode = full only", sec);
	for (size_t i = 0; f->entity && i < f->absent_cols.n; i++) {
		const struct column_rule *r = entity_column(f->entity, f->absent_cols.v[i]);
		if (r && (r->flags & COL_KEY))
			conf_error(ld, line, "[%s] absent.%s: a key column cannot be absent", sec,
				   f->absent_cols.v[i]);
		else if (r == NULL && !f->entity->open_columns)
			conf_error(ld, line, "[%s] absent.%s: %s has no column '%s'", sec,
				   f->absent_cols.v[i], f->entity->name, f->absent_cols.v[i]);
	}
}

void section_finish_feed(struct loader *ld, struct feed *f)
{
	keys_derive(ld, conf_feed_keys, f);
	feed_keys_agree(ld, f);
	feed_sequence_agrees(ld, f);
	/* past a map. key that failed to compile, its column is not also "missing", and
	   the feed's parser is not asked about a mapping it will never run */
	if (feed_compile_maps(ld, f) > 0 || f->map == NULL)
		return;
	if (ld->check_feed) {
		struct buf e = BUF_INIT(4096);
		if (ld->check_feed(f, &e) < 0)
			conf_error(ld, ld->cur_section_line, "[%s] %s", ld->section, buf_cstr(&e));
		buf_release(&e);
	}
	if (f->entity)
		feed_columns_mapped(ld, f);
}

void section_check_references(struct loader *ld)
{
	struct conf *c = ld->c;

	for (size_t i = 0; i < c->nexports; i++)
		if (conf_target(c, c->exports[i].target) == NULL)
			conf_error(ld, (unsigned long)c->exports[i].line,
				   "[export %s] target: no section [commerce %s]",
				   c->exports[i].name, c->exports[i].target);
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct feed *f = &c->feeds[i];
		for (size_t j = 0; j < f->targets.n; j++)
			if (conf_target(c, f->targets.v[j]) == NULL)
				conf_error(ld, (unsigned long)f->line,
					   "[feed %s] targets: no section [commerce%s%s]", f->name,
					   strcmp(f->targets.v[j], "default") ? " " : "",
					   strcmp(f->targets.v[j], "default") ? f->targets.v[j]
									      : "");
	}
}
