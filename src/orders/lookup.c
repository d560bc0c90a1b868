/*
 * lookup - orders found by the increment_id the partner knows, companies by
 * their e-mail and customers (a company's super user) by theirs: searches
 * with `in` filters, page_size keys a call, never one call per row.
 * (Magento's SearchCriteria `in` takes a comma-separated list; a key holding
 * a comma is looked up alone, by `eq`.)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "commerce/client.h"
#include "lib/feed.h"
#include "orders/opstate.h"
#include "util/xalloc.h"

void query_escape(struct buf *out, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			buf_addch(out, (char)*p);
		} else {
			buf_addch(out, '%');
			buf_addch(out, hex[*p >> 4]);
			buf_addch(out, hex[*p & 15]);
		}
	}
}

json_t *ops_get(struct opctx *x, const char *route)
{
	struct answer a;
	struct buf resp = BUF_INIT(BUF_NOCAP);
	json_t *j = NULL;

	answer_init(&a);
	x->searches++;
	if (commerce_get(x->client, route, &a, &resp) != ANSWER_DONE) {
		buf_reset(&x->why);
		buf_printf(&x->why, "a search failed: %s", buf_cstr(&a.message));
		x->s->transient = a.cls == ANSWER_TRANSIENT;
		x->failed = 1;
	} else if ((j = json_loads(buf_cstr(&resp), 0, NULL)) == NULL) {
		buf_reset(&x->why);
		buf_addstr(&x->why, "a search answered something that is not JSON");
		x->failed = 1;
	}
	answer_release(&a);
	buf_release(&resp);
	return j;
}

/* slim: an order kept with what the checks read, not the whole answer (10,000 orders of
   Commerce's full JSON would be most of the memory) */
static json_t *slim(json_t *rec, int company)
{
	static const char *const order_keys[] = {"entity_id", "increment_id", "state", "status",
						 NULL};
	static const char *const item_keys[] = {
	    "item_id",	    "sku",	    "parent_item_id", "qty_ordered",	"qty_shipped",
	    "qty_invoiced", "qty_refunded", "qty_canceled",   "is_qty_decimal", NULL};
	json_t *o, *items, *hist, *v;

	if (company) /* PUT replaces the record: all of it is kept */
		return json_incref(rec);
	o = json_object();
	for (const char *const *k = order_keys; *k; k++)
		if ((v = json_object_get(rec, *k)) != NULL)
			json_object_set(o, *k, v);
	items = json_array();
	for (size_t i = 0; i < json_array_size(json_object_get(rec, "items")); i++) {
		json_t *it = json_array_get(json_object_get(rec, "items"), i), *s = json_object();
		for (const char *const *k = item_keys; *k; k++)
			if ((v = json_object_get(it, *k)) != NULL)
				json_object_set(s, *k, v);
		json_array_append_new(items, s);
	}
	json_object_set_new(o, "items", items);
	hist = json_array();
	for (size_t i = 0; i < json_array_size(json_object_get(rec, "status_histories")); i++) {
		const char *c = json_string_value(json_object_get(
		    json_array_get(json_object_get(rec, "status_histories"), i), "comment"));
		if (c)
			json_array_append_new(hist, json_pack("{s:s}", "comment", c));
	}
	json_object_set_new(o, "status_histories", hist);
	return o;
}

/* FIELDS: Commerce's answer trimmed to what slim keeps (webapi's `fields` filter) */
#define ORDER_FIELDS                                                                               \
	"items[entity_id,increment_id,state,status,items[item_id,sku,parent_item_id,"              \
	"qty_ordered,qty_shipped,qty_invoiced,qty_refunded,qty_canceled,is_qty_decimal],"          \
	"status_histories[comment]],total_count"

/*
 * search_in: every record of resource whose field is one of keys (n of them),
 * into found (field value -> record), page_size keys a call. 0 or -1.
 */
static int search_in(struct opctx *x, const char *resource, const char *field,
		     const char *const *keys, size_t n, json_t *found)
{
	size_t page = x->f->page_size;
	struct buf route = BUF_INIT(BUF_NOCAP), list = BUF_INIT(BUF_NOCAP);

	for (size_t i = 0; i < n && !x->failed;) {
		size_t k = 0;
		int alone = strchr(keys[i], ',') != NULL;
		json_t *ans, *items;

		buf_reset(&list);
		if (alone) {
			buf_addstr(&list, keys[i]);
			k = 1;
		} else {
			for (; i + k < n && k < page && strchr(keys[i + k], ',') == NULL; k++) {
				if (k)
					buf_addch(&list, ',');
				buf_addstr(&list, keys[i + k]);
			}
		}
		buf_reset(&route);
		buf_printf(&route,
			   "%s?searchCriteria[filter_groups][0][filters][0][field]=%s"
			   "&searchCriteria[filter_groups][0][filters][0][value]=",
			   resource, field);
		query_escape(&route, buf_cstr(&list));
		buf_printf(&route,
			   "&searchCriteria[filter_groups][0][filters][0][condition_type]=%s"
			   "&searchCriteria[pageSize]=%zu&searchCriteria[currentPage]=1",
			   alone ? "eq" : "in", k);
		if (strcmp(resource, "orders") == 0)
			buf_addstr(&route, "&fields=" ORDER_FIELDS);
		ans = ops_get(x, buf_cstr(&route));
		items = json_object_get(ans, "items");
		for (size_t j = 0; j < json_array_size(items); j++) {
			json_t *rec = json_array_get(items, j);
			const char *v = json_string_value(json_object_get(rec, field));
			if (v)
				json_object_set_new(found, v,
						    slim(rec, strcmp(resource, "orders") != 0));
		}
		json_decref(ans);
		i += k;
	}
	buf_release(&route);
	buf_release(&list);
	return x->failed ? -1 : 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* unique_keys: the sorted distinct non-empty keys of v (n), in place; how many */
static size_t unique_keys(const char **v, size_t n)
{
	size_t m = 0;

	qsort(v, n, sizeof(*v), key_cmp);
	for (size_t i = 0; i < n; i++)
		if (v[i][0] && (m == 0 || strcmp(v[m - 1], v[i]) != 0))
			v[m++] = v[i];
	return m;
}

int ops_wanted(const struct op *o, int only_unknown)
{
	if (only_unknown == 2)
		return o->recheck;
	if (only_unknown)
		return o->fate == FATE_UNKNOWN;
	return o->fate == FATE_NEW || o->fate == FATE_UNKNOWN || o->fate == FATE_RETRY;
}

/* super_users: company rows' super_user_email resolved to customer ids (x->customers) */
static int super_users(struct opctx *x, int only_unknown)
{
	const char **emails = xcalloc(x->tab.rows + 1, sizeof(char *));
	size_t n = 0;
	int rc;

	if (op_column(&x->tab, "super_user_email") == (size_t)-1) {
		free(emails);
		return 0;
	}
	for (size_t i = 0; i < x->nops; i++)
		if (ops_wanted(&x->ops[i], only_unknown))
			for (size_t k = 0; k < x->ops[i].nrows; k++)
				emails[n++] =
				    op_cell(&x->tab, x->ops[i].rows[k], "super_user_email");
	n = unique_keys(emails, n);
	json_decref(x->customers);
	x->customers = json_object();
	rc = search_in(x, "customers/search", "email", emails, n, x->customers);
	free(emails);
	return rc;
}

int ops_lookup(struct opctx *x, int only_unknown)
{
	const char **keys = xcalloc(x->nops + 1, sizeof(char *));
	json_t *found = json_object();
	size_t n = 0;
	int company = x->op->kind == OP_COMPANY;
	int rc = 0;

	for (size_t i = 0; i < x->nops; i++)
		if (ops_wanted(&x->ops[i], only_unknown))
			keys[n++] = x->ops[i].key;
	n = unique_keys(keys, n);
	if (n && company)
		rc = super_users(x, only_unknown);
	if (n && rc == 0)
		rc = company ? search_in(x, "company", "company_email", keys, n, found)
			     : search_in(x, "orders", "increment_id", keys, n, found);
	for (size_t i = 0; rc == 0 && i < x->nops; i++) {
		struct op *o = &x->ops[i];
		json_t *rec;

		if (!ops_wanted(o, only_unknown))
			continue;
		rec = json_object_get(found, o->key);
		json_decref(o->found);
		o->found = json_incref(rec);
		o->id = 0;
		if (rec)
			o->id =
			    json_integer_value(json_object_get(rec, company ? "id" : "entity_id"));
	}
	if (rc == 0)
		rc = ops_documents(x, only_unknown); /* documents.c: unknown fates only */
	json_decref(found);
	free(keys);
	return rc;
}

int ops_lookup_marked(struct opctx *x)
{
	return ops_lookup(x, 2);
}
