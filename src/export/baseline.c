#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce/client.h"
#include "export/baseline.h"
#include "lib/batch.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/filters.h"
#include "lib/mapping.h"
#include "queue/keys.h"
#include "lib/rowsum.h"
#include "util/xalloc.h"

/* what the walk of one entity needs: its search, its key fields, its values */
struct source {
	const char *entity;
	const char *resource; /* the search's route under /V1/ */
	const char *keys[2];  /* sort and paging fields, the second may be NULL */
	void (*value)(const json_t *item, const char *column, struct buf *out);
};

/* --- values ------------------------------------------------------------- */

/* number_text: a JSON number as number() writes it: shortest exact decimal, never 1e+20. */
static void number_text(struct buf *out, const json_t *v)
{
	char s[400];
	double d;

	if (json_is_integer(v)) {
		buf_printf(out, "%lld", (long long)json_integer_value(v));
		return;
	}
	d = json_real_value(v);
	if (!isfinite(d))
		return;
	for (int prec = 0; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*f", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (number_normalise((struct strview){s, strlen(s)}, '.', 0, out) < 0)
		buf_addstr(out, s); /* more digits than number() takes: as printed */
}

/* text_of: a value as the feed's column would carry it. numeric: a decimal text too is
   written in number()'s form ("15.000000", as custom_attributes hold prices, is 15). */
static void text_of(struct buf *out, const json_t *v, int numeric)
{
	size_t i;
	const json_t *x;

	if (json_is_number(v)) {
		number_text(out, v);
	} else if (json_is_boolean(v)) {
		buf_addch(out, json_is_true(v) ? '1' : '0');
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v), before = out->len;
		if (!numeric || number_normalise((struct strview){s, len}, '.', 0, out) < 0) {
			buf_truncate(out, before);
			buf_add(out, s, len);
		}
	} else if (json_is_array(v)) {
		/* a multi-select: Commerce's multi-value separator */
		json_array_foreach(v, i, x)
		{
			if (i)
				buf_addch(out, ',');
			text_of(out, x, 0);
		}
	}
}

static void stock_value(const json_t *item, const char *column, struct buf *out)
{
	/* the import's columns are the source item's fields (stock_sources is closed) */
	text_of(out, json_object_get(item, column), 0);
}

/* the catalog_product columns that hold numbers */
static int numeric_column(const char *column)
{
	static const char *const numeric[] = {
	    "price", "special_price", "cost", "weight", "qty", "msrp", NULL,
	};

	for (const char *const *n = numeric; *n; n++)
		if (strcmp(*n, column) == 0)
			return 1;
	return 0;
}

static void product_value(const json_t *p, const char *column, struct buf *out)
{
	/* ProductInterface's top-level fields under their import column names */
	static const char *const visibility[] = {"", "Not Visible Individually", "Catalog",
						 "Search", "Catalog, Search"};
	const json_t *stock =
	    json_object_get(json_object_get(p, "extension_attributes"), "stock_item");
	const json_t *attrs = json_object_get(p, "custom_attributes"), *a;
	size_t i;

	if (strcmp(column, "store_view_code") == 0)
		return; /* the scope asked: the values a row without a store view sets */
	if (strcmp(column, "product_type") == 0) {
		text_of(out, json_object_get(p, "type_id"), 0);
	} else if (strcmp(column, "product_online") == 0) {
		/* status: 1 enabled, 2 disabled (Catalog Product\Attribute\Source\Status) */
		json_int_t st = json_integer_value(json_object_get(p, "status"));
		if (st)
			buf_addch(out, st == 1 ? '1' : '0');
	} else if (strcmp(column, "visibility") == 0) {
		json_int_t v = json_integer_value(json_object_get(p, "visibility"));
		if (v >= 1 && v <= 4)
			buf_addstr(out, visibility[v]);
	} else if (strcmp(column, "qty") == 0 || strcmp(column, "is_in_stock") == 0) {
		text_of(out, json_object_get(stock, column), 1);
	} else if (json_object_get(p, column) && strcmp(column, "custom_attributes") &&
		   strcmp(column, "extension_attributes")) {
		text_of(out, json_object_get(p, column), numeric_column(column));
	} else {
		json_array_foreach(attrs, i, a)
		{
			const char *code = json_string_value(json_object_get(a, "attribute_code"));
			if (code && strcmp(code, column) == 0) {
				text_of(out, json_object_get(a, "value"), numeric_column(column));
				break;
			}
		}
	}
}

static const struct source sources[] = {
    {"stock_sources", "inventory/source-items", {"sku", "source_code"}, stock_value},
    {"catalog_product", "products", {"sku", NULL}, product_value},
    {NULL, NULL, {NULL, NULL}, NULL},
};

/* --- the plan: which feed's columns ------------------------------------- */

struct plan {
	const struct feed *f;
	const struct source *src;
	size_t ncols;
	char **cols;
	char *header;	   /* the CSV header of the rows */
	char *only_source; /* stock: the literal source_code the feed maps, else NULL */
	struct row_layout lay;
};

static const struct feed *pick_feed(const struct conf *c, const char *partner, const char *sequence)
{
	const struct feed *first = NULL;

	for (size_t i = 0; i < c->nfeeds; i++) {
		const struct feed *f = &c->feeds[i];
		if (f->sequence == NULL || strcmp(f->sequence, sequence) != 0 ||
		    !strlist_match(&f->partners, partner))
			continue;
		if (f->mode == MODE_FULL)
			return f;
		if (first == NULL)
			first = f;
	}
	return first;
}

static int plan_init(struct plan *p, const struct conf *c, const char *partner,
		     const char *sequence, const char *target, struct buf *err)
{
	struct buf h = BUF_INIT(BUF_NOCAP);
	struct strview *names;

	memset(p, 0, sizeof(*p));
	p->f = pick_feed(c, partner, sequence);
	if (p->f == NULL) {
		buf_printf(err, "no feed of partner '%s' has sequence = %s", partner, sequence);
		return -1;
	}
	if (conf_target(c, target) == NULL || !strlist_has(&p->f->targets, target)) {
		buf_printf(err, "[feed %s] does not send to a target '%s'", p->f->name, target);
		return -1;
	}
	for (p->src = sources; p->src->entity; p->src++)
		if (strcmp(p->src->entity, p->f->entity->name) == 0)
			break;
	if (p->src->entity == NULL) {
		buf_printf(err,
			   "[feed %s]: baseline reads stock_sources and catalog_product, not %s",
			   p->f->name, p->f->entity->name);
		return -1;
	}
	if (p->f->map) {
		p->ncols = mapping_count(p->f->map);
		p->cols = xcalloc(p->ncols, sizeof(*p->cols));
		for (size_t i = 0; i < p->ncols; i++) {
			const char *col = mapping_column(p->f->map, i), *lit;
			p->cols[i] = xstrdup(col);
			lit = mapping_literal(p->f->map, i);
			if (strcmp(col, "source_code") == 0 && lit)
				p->only_source = xstrdup(lit);
		}
	} else if (strcmp(p->src->entity, "stock_sources") == 0) {
		/* columns passed through: the entity's whole (closed) set */
		for (const struct column_rule *r = p->f->entity->columns; r->name; r++)
			p->ncols++;
		p->cols = xcalloc(p->ncols, sizeof(*p->cols));
		for (size_t i = 0; i < p->ncols; i++)
			p->cols[i] = xstrdup(p->f->entity->columns[i].name);
	} else {
		buf_printf(err,
			   "[feed %s] passes its columns through: baseline needs map. keys to "
			   "know which columns the rows carry",
			   p->f->name);
		return -1;
	}
	names = xcalloc(p->ncols, sizeof(*names));
	for (size_t i = 0; i < p->ncols; i++) {
		names[i] = (struct strview){p->cols[i], strlen(p->cols[i])};
		if (i)
			buf_addch(&h, ',');
		csv_append_field(&h, p->cols[i], strlen(p->cols[i]));
	}
	layout_init(&p->lay, p->f->entity, names, p->ncols);
	free(names);
	p->header = buf_detach(&h);
	return 0;
}

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->ncols; i++)
		free(p->cols[i]);
	free(p->cols);
	free(p->header);
	free(p->only_source);
	if (p->lay.names)
		layout_release(&p->lay);
}

/* --- the walk ----------------------------------------------------------- */

/* query_add: v percent-encoded for a query string. */
static void query_add(struct buf *out, const char *v)
{
	for (const unsigned char *s = (const unsigned char *)v; *s; s++)
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s))
			buf_addch(out, (char)*s);
		else
			buf_printf(out, "%%%02X", *s);
}

static void filter_add(struct buf *q, int group, int n, const char *field, const char *value,
		       const char *cond)
{
	buf_printf(q, "&searchCriteria[filter_groups][%d][filters][%d][field]=%s", group, n, field);
	buf_printf(q, "&searchCriteria[filter_groups][%d][filters][%d][value]=", group, n);
	query_add(q, value);
	buf_printf(q, "&searchCriteria[filter_groups][%d][filters][%d][condition_type]=%s", group,
		   n, cond);
}

/* walk_route: page 1 past last (NULL: from the start), sorted by the source's keys. */
static void walk_route(struct buf *q, const struct plan *p, char *const last[2],
		       unsigned long page_size)
{
	const char *const *k = p->src->keys;
	int g = 0;

	buf_reset(q);
	buf_printf(q, "%s?searchCriteria[pageSize]=%lu&searchCriteria[currentPage]=1",
		   p->src->resource, page_size);
	for (int i = 0; i < 2 && k[i]; i++)
		buf_printf(q,
			   "&searchCriteria[sortOrders][%d][field]=%s"
			   "&searchCriteria[sortOrders][%d][direction]=ASC",
			   i, k[i], i);
	if (p->only_source)
		filter_add(q, g++, 0, "source_code", p->only_source, "eq");
	if (last[0] && k[1] == NULL) {
		filter_add(q, g++, 0, k[0], last[0], "gt");
	} else if (last[0]) {
		/* (k0, k1) > (last0, last1): k0 >= last0 AND (k0 > last0 OR k1 > last1) */
		filter_add(q, g++, 0, k[0], last[0], "gteq");
		filter_add(q, g, 0, k[0], last[0], "gt");
		filter_add(q, g++, 1, k[1], last[1], "gt");
	}
}

struct page {
	struct key_entry *e;
	size_t n;
	struct buf key, row, val, scratch;
};

/* page_take: item as the entry the sift would store for the row the feed sends. */
static void page_take(struct page *pg, const struct plan *p, const json_t *item)
{
	struct strview *v = xcalloc(p->ncols, sizeof(*v));
	size_t *off = xcalloc(p->ncols, sizeof(*off));
	uint64_t khash;

	buf_reset(&pg->val);
	for (size_t i = 0; i < p->ncols; i++) {
		off[i] = pg->val.len;
		p->src->value(item, p->cols[i], &pg->val);
		v[i].len = pg->val.len - off[i];
	}
	buf_reset(&pg->row);
	for (size_t i = 0; i < p->ncols; i++) {
		v[i].p = pg->val.data ? pg->val.data + off[i] : "";
		if (i)
			buf_addch(&pg->row, ',');
		csv_append_field(&pg->row, v[i].p, v[i].len);
	}
	khash = row_key(&p->lay, v, &pg->key);
	if (khash) {
		struct key_entry *e = &pg->e[pg->n++];
		e->key = xstrdup(buf_cstr(&pg->key));
		e->khash = keys_hash(e->key);
		e->digest = row_digest(&p->lay, v, &pg->scratch);
		e->stamp = 0;
		e->in_full = 0;
		e->header = p->header;
		e->row = xstrdup(buf_cstr(&pg->row));
	}
	free(v);
	free(off);
}

static int by_hash(const void *a, const void *b)
{
	uint64_t x = ((const struct key_entry *)a)->khash, y = ((const struct key_entry *)b)->khash;

	return x < y ? -1 : x > y;
}

static void page_clear(struct page *pg)
{
	for (size_t i = 0; i < pg->n; i++) {
		free((char *)pg->e[i].key);
		free((char *)pg->e[i].row);
	}
	pg->n = 0;
}

/* advance: last becomes the page's last item's key; 0 when it did not move. */
static int advance(const struct plan *p, const json_t *items, char *last[2])
{
	const json_t *it = json_array_get(items, json_array_size(items) - 1);
	int moved = 0;

	for (int i = 0; i < 2 && p->src->keys[i]; i++) {
		const char *v = json_string_value(json_object_get(it, p->src->keys[i]));
		if (v == NULL)
			return 0;
		if (last[i] == NULL || strcmp(last[i], v) != 0) {
			moved = 1;
			free(last[i]);
			last[i] = xstrdup(v);
		}
	}
	return moved;
}

enum baseline_status baseline_fill(const struct conf *c, struct ledger *l, const char *partner,
				   const char *sequence, const char *target,
				   unsigned long page_size, struct baseline_result *res,
				   struct buf *err)
{
	struct commerce_client *client = NULL;
	struct plan p;
	struct page pg = {NULL,
			  0,
			  BUF_INIT(BUF_NOCAP),
			  BUF_INIT(BUF_NOCAP),
			  BUF_INIT(BUF_NOCAP),
			  BUF_INIT(BUF_NOCAP)};
	struct buf q = BUF_INIT(BUF_NOCAP), body = BUF_INIT(BUF_NOCAP);
	struct answer a;
	struct key_scope scope;
	char *last[2] = {NULL, NULL};
	enum baseline_status rc = BASELINE_REFUSED;

	memset(res, 0, sizeof(*res));
	answer_init(&a);
	if (plan_init(&p, c, partner, sequence, target, err) < 0)
		goto out;
	res->entity = p.f->entity->name;
	res->feed = p.f->name;
	rc = BASELINE_LEDGER;
	if (keys_scope(l, partner, sequence, target, &scope) < 0) {
		buf_addstr(err, "the key store could not be opened");
		goto out;
	}
	rc = BASELINE_COMMERCE;
	client = commerce_client_new(conf_target(c, target), err);
	if (client == NULL)
		goto out;
	for (;;) {
		json_t *answer, *items;
		size_t n, i;
		json_int_t total;
		const json_t *item;
		int moved;

		walk_route(&q, &p, last, page_size);
		if (commerce_get(client, q.data, &a, &body) != ANSWER_DONE) {
			buf_printf(err, "Commerce (%s): %s", p.src->resource, buf_cstr(&a.message));
			goto out;
		}
		res->pages++;
		answer = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
		items = json_object_get(answer, "items");
		if (!json_is_array(items)) {
			buf_printf(err, "Commerce's %s search answer has no items list",
				   p.src->resource);
			json_decref(answer);
			goto out;
		}
		n = json_array_size(items);
		/* every match left, this page's included (none said: unknown) */
		total = json_is_integer(json_object_get(answer, "total_count"))
			    ? json_integer_value(json_object_get(answer, "total_count"))
			    : -1;
		pg.e = xreallocarray(pg.e, n ? n : 1, sizeof(*pg.e));
		json_array_foreach(items, i, item)
		{
			page_take(&pg, &p, item);
		}
		moved = n ? advance(&p, items, last) : 0;
		json_decref(answer);
		/* in hash order the store's pages are touched in order (keys_put) */
		qsort(pg.e, pg.n, sizeof(*pg.e), by_hash);
		if (pg.n && keys_put(l, scope.id, pg.e, pg.n, NULL, -1) < 0) {
			buf_addstr(err, "the key store could not be written");
			rc = BASELINE_LEDGER;
			goto out;
		}
		res->keys += pg.n;
		page_clear(&pg);
		/* the end: a short page, every match in this one, or nothing past the key */
		if (n < page_size || (total >= 0 && (json_int_t)n >= total) || !moved)
			break;
	}
	rc = BASELINE_DONE;
out:
	page_clear(&pg);
	free(pg.e);
	buf_release(&pg.key);
	buf_release(&pg.row);
	buf_release(&pg.val);
	buf_release(&pg.scratch);
	free(last[0]);
	free(last[1]);
	answer_release(&a);
	buf_release(&q);
	buf_release(&body);
	commerce_client_free(client);
	plan_release(&p);
	return rc;
}
