/*
 * documents - an operation of unknown fate looked up by the document it would
 * have made: a ship by its shipment's track numbers, an invoice or a refund
 * by an invoice or credit memo carrying its lines. One search per page of
 * orders (`order_id in ...`: GET /V1/shipments, /V1/invoices, /V1/creditmemos,
 * Magento_Sales' ShipmentRepository / InvoiceRepository / CreditmemoRepository
 * getList; shipments come with their items and tracks), only for orders with
 * such an operation. op_documents_say() decides from them and from the
 * quantities the order shows (plan.c).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce/client.h"
#include "lib/feed.h"
#include "orders/opstate.h"
#include "util/xalloc.h"

static double num(const json_t *v)
{
	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v))
		return strtod(json_string_value(v), NULL);
	return 0;
}

static const char *resource(enum op_kind k)
{
	return k == OP_SHIP ? "shipments" : k == OP_INVOICE ? "invoices" : "creditmemos";
}

/* wants_documents: o's fate is unknown (or Commerce refused it as if it were done) */
static int wants_documents(const struct op *o)
{
	return o->found && o->id && (o->fate == FATE_UNKNOWN || o->fate == FATE_REFUSED);
}

/* slim_doc: {"lines": {order_item_id: qty}, "tracks": [track_number, ...]} */
static json_t *slim_doc(const json_t *d)
{
	json_t *lines = json_object(), *tracks = json_array();
	const json_t *items = json_object_get(d, "items"), *trk = json_object_get(d, "tracks");
	char id[32];

	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *it = json_array_get(items, i);
		snprintf(id, sizeof(id), "%lld",
			 (long long)num(json_object_get(it, "order_item_id")));
		json_object_set_new(lines, id, json_real(num(json_object_get(it, "qty"))));
	}
	for (size_t i = 0; i < json_array_size(trk); i++) {
		const char *t =
		    json_string_value(json_object_get(json_array_get(trk, i), "track_number"));
		if (t)
			json_array_append_new(tracks, json_string(t));
	}
	return json_pack("{s:o, s:o}", "lines", lines, "tracks", tracks);
}

/* fetch: the documents of the orders listed in ids (comma-separated), into by_order */
static int fetch(struct opctx *x, const char *ids, json_t *by_order)
{
	const unsigned size = 500;
	struct buf route = BUF_INIT(BUF_NOCAP);
	size_t got = 0;

	for (unsigned page = 1; page <= 100 && !x->failed; page++) {
		json_t *ans, *items;
		size_t n, total;

		buf_reset(&route);
		buf_printf(&route,
			   "%s?searchCriteria[filter_groups][0][filters][0][field]=order_id"
			   "&searchCriteria[filter_groups][0][filters][0][value]=",
			   resource(x->op->kind));
		query_escape(&route, ids);
		buf_printf(
		    &route,
		    "&searchCriteria[filter_groups][0][filters][0][condition_type]=in"
		    "&searchCriteria[pageSize]=%u&searchCriteria[currentPage]=%u"
		    "&fields=items[entity_id,order_id,items[order_item_id,qty]%s],total_count",
		    size, page, x->op->kind == OP_SHIP ? ",tracks[track_number]" : "");
		if ((ans = ops_get(x, buf_cstr(&route))) == NULL)
			break;
		items = json_object_get(ans, "items");
		n = json_array_size(items);
		total = (size_t)json_integer_value(json_object_get(ans, "total_count"));
		for (size_t i = 0; i < n; i++) {
			const json_t *d = json_array_get(items, i);
			char key[32];
			json_t *list;
			snprintf(key, sizeof(key), "%lld",
				 (long long)num(json_object_get(d, "order_id")));
			if ((list = json_object_get(by_order, key)) == NULL) {
				list = json_array();
				json_object_set_new(by_order, key, list);
			}
			json_array_append_new(list, slim_doc(d));
		}
		json_decref(ans);
		got += n;
		/* Commerce clamps a page past the last to the last: stop at total_count */
		if (n < size || got >= total)
			break;
	}
	buf_release(&route);
	return x->failed ? -1 : 0;
}

int ops_documents(struct opctx *x, int only_unknown)
{
	json_t *by_order = json_object();
	struct buf ids = BUF_INIT(BUF_NOCAP);
	size_t n = 0;
	int rc = 0;

	if (x->op->kind != OP_SHIP && x->op->kind != OP_INVOICE && x->op->kind != OP_REFUND) {
		json_decref(by_order);
		return 0;
	}
	for (size_t i = 0; i <= x->nops && rc == 0; i++) {
		const struct op *o = i < x->nops ? &x->ops[i] : NULL;
		if (o && ops_wanted(o, only_unknown) && wants_documents(o)) {
			buf_printf(&ids, "%s%lld", n ? "," : "", o->id);
			n++;
		}
		if (n && (o == NULL || n >= x->f->page_size)) {
			rc = fetch(x, buf_cstr(&ids), by_order);
			buf_reset(&ids);
			n = 0;
		}
	}
	for (size_t i = 0; rc == 0 && i < x->nops; i++) {
		struct op *o = &x->ops[i];
		char key[32];
		json_t *docs;
		if (!ops_wanted(o, only_unknown) || !wants_documents(o))
			continue;
		snprintf(key, sizeof(key), "%lld", o->id);
		docs = json_object_get(by_order, key);
		json_object_set_new(o->found, "_documents",
				    docs ? json_incref(docs) : json_array());
	}
	buf_release(&ids);
	json_decref(by_order);
	return rc;
}

/* carries: the document has every line of want (item id -> qty) at that qty */
static int carries(const json_t *doc, const json_t *want)
{
	const json_t *lines = json_object_get(doc, "lines"), *q;
	const char *id;

	if (json_object_size(want) == 0)
		return 0;
	json_object_foreach((json_t *)want, id, q)
	{
		const json_t *have = json_object_get(lines, id);
		if (have == NULL || fabs(num(have) - num(q)) > 1e-9)
			return 0;
	}
	return 1;
}

/* tracked: the document carries every track number of want */
static int tracked(const json_t *doc, const json_t *want)
{
	const json_t *have = json_object_get(doc, "tracks");

	for (size_t i = 0; i < json_array_size(want); i++) {
		const char *t = json_string_value(json_array_get(want, i));
		int found = 0;
		for (size_t k = 0; k < json_array_size(have) && !found; k++)
			found = t && strcmp(t, json_string_value(json_array_get(have, k))) == 0;
		if (!found)
			return 0;
	}
	return json_array_size(want) > 0;
}

int op_documents_say(const json_t *expect, const json_t *docs, int quantities_there)
{
	const json_t *lines = json_object_get(expect, "lines");
	const json_t *tracks = json_object_get(expect, "tracks");

	if (docs == NULL || lines == NULL) /* not looked up, or recorded by an older dropgate */
		return quantities_there;
	if (json_array_size(tracks)) { /* a track number is the shipment's identity */
		for (size_t i = 0; i < json_array_size(docs); i++)
			if (tracked(json_array_get(docs, i), tracks))
				return 1;
	} else if (quantities_there) { /* without one: its lines, on top of the quantities */
		for (size_t i = 0; i < json_array_size(docs); i++)
			if (carries(json_array_get(docs, i), lines))
				return 1;
	}
	/* the order shows it done, by no document of ours: someone else's; else not there */
	return quantities_there ? -1 : 0;
}
