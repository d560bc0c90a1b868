/*
 * plan - each operation checked against what Commerce holds before anything
 * is sent, and its request built:
 *   ship, invoice, refund: every row's SKU must be an item of the order and
 *     the quantities of one item, summed over the order's rows, at most what
 *     is left (Magento\Sales\Model\Order\Item: getSimpleQtyToShip = ordered -
 *     shipped - refunded - canceled; getQtyToInvoice = ordered - invoiced -
 *     canceled; getQtyToRefund = invoiced - refunded): Commerce's /ship cuts
 *     a quantity down and ignores a foreign item without a word;
 *   cancel, hold, unhold: nothing to do when the order is already so;
 *   company: the row merged onto the company Commerce holds (PUT replaces the
 *     record), super_user_email resolved, every field a new company needs.
 * A rejected row is told on the partner's line and not sent; an operation
 * left with no row is not sent. op_present says whether an operation of
 * unknown fate is already in Commerce, from what it recorded before it went
 * and the documents its order holds (documents.c); op_not_ours reports one
 * whose order shows it done by someone else's document, never resent.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/feed.h"
#include "lib/mapping.h"
#include "orders/opstate.h"
#include "parse/parcel.h"
#include "util/keyset.h"
#include "util/xalloc.h"

static void tell(struct opctx *x, size_t row, const char *column, const char *message)
{
	struct submit_state *s = x->s;
	char line[4200];
	const char *value = column ? op_cell(&x->tab, row, column) : "";

	parcel_line(s->parcel, x->tab.origin[row].member, x->tab.origin[row].line, line,
		    sizeof(line));
	parcel_problem(s->parcel, line, column ? parcel_partner_column(s->parcel, column) : "",
		       value, strlen(value), message);
	if (keyset_insert(&s->rejected_lines, line, strlen(line), 1) == 0)
		s->commerce_rejected++;
}

void op_reject_row(struct opctx *x, struct op *o, size_t k, const char *column, const char *message)
{
	if (o->bad[k])
		return;
	o->bad[k] = 1;
	tell(x, o->rows[k], column, message);
	if (o->rejected == NULL)
		o->rejected = json_array();
	json_array_append_new(o->rejected,
			      json_pack("[I, s, s]", (json_int_t)k, column ? column : "", message));
}

void op_retell(struct opctx *x, struct op *o)
{
	for (size_t i = 0; i < json_array_size(o->rejected); i++) {
		json_t *e = json_array_get(o->rejected, i);
		size_t k = (size_t)json_integer_value(json_array_get(e, 0));
		const char *col = json_string_value(json_array_get(e, 1));
		if (k < o->nrows && !o->bad[k]) {
			o->bad[k] = 1;
			tell(x, o->rows[k], col && *col ? col : NULL,
			     json_string_value(json_array_get(e, 2)));
		}
	}
}

/* one_line: Commerce's multi-line refusals ("...Error(s):\nA\nB") as one line */
static void one_line(struct buf *out, const char *m)
{
	for (; *m; m++) {
		if (*m == '\n' || *m == '\r') {
			while (m[1] == '\n' || m[1] == '\r')
				m++;
			if (m[1] && out->len && out->data[out->len - 1] != ':' &&
			    out->data[out->len - 1] != '.')
				buf_addch(out, ';');
			if (m[1])
				buf_addch(out, ' ');
		} else {
			buf_addch(out, *m);
		}
	}
}

void op_tell_refusal(struct opctx *x, struct op *o, const char *message)
{
	struct buf msg = BUF_INIT(BUF_NOCAP);

	buf_addstr(&msg, "Commerce refused it: ");
	one_line(&msg, message && *message ? message : "(no reason given)");
	for (size_t k = 0; k < o->nrows; k++)
		if (!o->bad[k])
			tell(x, o->rows[k], NULL, buf_cstr(&msg));
	buf_release(&msg);
}

static double num(const json_t *v)
{
	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v))
		return strtod(json_string_value(v), NULL);
	return 0;
}

static const char *done_field(enum op_kind k)
{
	return k == OP_SHIP ? "qty_shipped" : k == OP_INVOICE ? "qty_invoiced" : "qty_refunded";
}

static const char *verb(enum op_kind k)
{
	return k == OP_SHIP ? "ship" : k == OP_INVOICE ? "invoice" : "refund";
}

static double left_of(enum op_kind k, const json_t *item)
{
	double q;

	if (k == OP_SHIP)
		q = num(json_object_get(item, "qty_ordered")) -
		    num(json_object_get(item, "qty_shipped")) -
		    num(json_object_get(item, "qty_refunded")) -
		    num(json_object_get(item, "qty_canceled"));
	else if (k == OP_INVOICE)
		q = num(json_object_get(item, "qty_ordered")) -
		    num(json_object_get(item, "qty_invoiced")) -
		    num(json_object_get(item, "qty_canceled"));
	else
		q = num(json_object_get(item, "qty_invoiced")) -
		    num(json_object_get(item, "qty_refunded"));
	return q > 0 ? q : 0;
}

/* find_item: the order's item of sku, the parent of a configurable's child first */
static json_t *find_item(json_t *order, const char *sku)
{
	json_t *items = json_object_get(order, "items"), *child = NULL;

	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		const char *s = json_string_value(json_object_get(it, "sku"));
		if (s == NULL || strcmp(s, sku) != 0)
			continue;
		if (json_integer_value(json_object_get(it, "parent_item_id")) == 0)
			return it;
		child = child ? child : it;
	}
	return child;
}

static int flag(const char *v)
{
	return operation_flag(v) == 1;
}

static json_t *number_json(const char *v)
{
	double d = strtod(v, NULL);

	return d == floor(d) && fabs(d) < 1e15 ? json_integer((json_int_t)d) : json_real(d);
}

/* qty_json: a quantity as Commerce reads it: a whole number plain */
static json_t *qty_json(const json_t *q)
{
	double d = json_number_value(q);

	return d == floor(d) ? json_integer((json_int_t)d) : json_real(d);
}

/* plan_items: ship, invoice, refund */
static void plan_items(struct opctx *x, struct op *o)
{
	enum op_kind kind = x->op->kind;
	json_t *items = json_array(), *want = json_object(), *tracks = json_array();
	json_t *stock = json_array(), *body = json_object(), *before;
	int notify = 0, capture = 0, any = 0, nothing_left = 1;
	char msg[512];
	const char *ids;
	json_t *q;

	for (size_t i = 0; i < json_array_size(json_object_get(o->found, "items")); i++)
		if (left_of(kind, json_array_get(json_object_get(o->found, "items"), i)) > 0)
			nothing_left = 0;
	for (size_t k = 0; k < o->nrows; k++) {
		size_t r = o->rows[k];
		const char *sku = op_cell(&x->tab, r, "sku");
		double qty = strtod(op_cell(&x->tab, r, "qty"), NULL), left, asked;
		json_t *item = find_item(o->found, sku);
		char id[32];

		if (item == NULL) {
			snprintf(msg, sizeof(msg), "SKU '%.100s' is not an item of order '%.64s'",
				 sku, o->key);
			op_reject_row(x, o, k, "sku", msg);
			continue;
		}
		if (qty != floor(qty) && !json_is_true(json_object_get(item, "is_qty_decimal")) &&
		    num(json_object_get(item, "is_qty_decimal")) == 0) {
			/* ShipmentFactory and InvoiceService cast it to a whole number silently */
			snprintf(msg, sizeof(msg),
				 "quantity %g of SKU '%.100s' is not a whole number, and the item "
				 "takes whole quantities only",
				 qty, sku);
			op_reject_row(x, o, k, "qty", msg);
			continue;
		}
		snprintf(id, sizeof(id), "%lld",
			 (long long)json_integer_value(json_object_get(item, "item_id")));
		left = left_of(kind, item);
		asked = num(json_object_get(want, id)) + qty;
		if (asked > left + 1e-9 && !(kind == OP_SHIP && nothing_left)) {
			snprintf(msg, sizeof(msg),
				 "quantity %g of SKU '%.100s' is more than is left to %s in order "
				 "'%.64s' (%g)",
				 qty, sku, verb(kind), o->key, left - (asked - qty));
			op_reject_row(x, o, k, "qty", msg);
			continue;
		}
		json_object_set_new(want, id, json_real(asked));
		notify |= flag(op_cell(&x->tab, r, "notify"));
		capture |= flag(op_cell(&x->tab, r, "capture"));
		if (kind == OP_REFUND && flag(op_cell(&x->tab, r, "return_to_stock")))
			json_array_append_new(stock, json_integer(json_integer_value(
							 json_object_get(item, "item_id"))));
		if (kind == OP_SHIP && op_cell(&x->tab, r, "track_number")[0]) {
			const char *tn = op_cell(&x->tab, r, "track_number");
			const char *cc = op_cell(&x->tab, r, "carrier_code");
			const char *ti = op_cell(&x->tab, r, "title");
			int dup = 0;
			for (size_t t = 0; t < json_array_size(tracks); t++)
				dup |= strcmp(json_string_value(json_object_get(
						  json_array_get(tracks, t), "track_number")),
					      tn) == 0;
			if (!dup)
				json_array_append_new(
				    tracks,
				    json_pack("{s:s, s:s, s:s}", "track_number", tn, "carrier_code",
					      cc[0] ? cc : "custom", "title",
					      ti[0] ? ti : (cc[0] ? cc : "custom")));
		}
		any = 1;
	}
	if (kind == OP_SHIP && nothing_left && any) {
		/* Commerce would answer "The order does not allow a shipment to be created" */
		o->fate = FATE_SKIPPED;
		free(o->result);
		o->result = xasprintf("order '%s' is already shipped in full", o->key);
		goto out;
	}
	if (!any) {
		o->fate = FATE_REJECTED;
		goto out;
	}
	before = json_object();
	json_object_set_new(before, "field", json_string(done_field(kind)));
	json_object_set_new(before, "items", json_object());
	/* what it asks (order item id -> qty) and its track numbers: the document it makes */
	json_object_set_new(before, "lines", json_object());
	if (kind == OP_SHIP) {
		json_t *numbers = json_array();
		for (size_t t = 0; t < json_array_size(tracks); t++)
			json_array_append(numbers,
					  json_object_get(json_array_get(tracks, t), "track_number"));
		json_object_set_new(before, "tracks", numbers);
	}
	json_object_foreach(want, ids, q)
	{
		json_t *item = NULL, *all = json_object_get(o->found, "items");
		for (size_t i = 0; i < json_array_size(all); i++) {
			json_t *it = json_array_get(all, i);
			if (json_integer_value(json_object_get(it, "item_id")) == atoll(ids))
				item = it;
		}
		json_array_append_new(items, json_pack("{s:I, s:o}", "order_item_id",
						       (json_int_t)atoll(ids), "qty", qty_json(q)));
		json_object_set_new(json_object_get(before, "lines"), ids, qty_json(q));
		json_object_set_new(
		    json_object_get(before, "items"), ids,
		    json_real(num(json_object_get(item, done_field(kind))) + json_number_value(q)));
	}
	json_object_set_new(body, "items", items);
	items = NULL;
	json_object_set_new(body, "notify", json_boolean(notify));
	if (kind == OP_SHIP && json_array_size(tracks))
		json_object_set(body, "tracks", tracks);
	if (kind == OP_INVOICE)
		json_object_set_new(body, "capture", json_boolean(capture));
	if (kind == OP_REFUND) {
		json_t *args = json_object();
		const char *names[] = {"shipping_amount", "adjustment_positive",
				       "adjustment_negative"};
		for (size_t i = 0; i < 3; i++) {
			const char *v = op_cell(&x->tab, o->rows[0], names[i]);
			if (v[0])
				json_object_set_new(args, names[i], number_json(v));
		}
		if (json_array_size(stock))
			json_object_set_new(args, "extension_attributes",
					    json_pack("{s:O}", "return_to_stock_items", stock));
		json_object_set_new(body, "arguments", args);
	}
	json_decref(o->before);
	o->before = before;
	json_decref(o->body);
	o->body = body;
	body = NULL;
out:
	json_decref(body);
	json_decref(items);
	json_decref(want);
	json_decref(tracks);
	json_decref(stock);
}

/* plan_comment: the status history entry (OrderManagementInterface::addComment) */
static void plan_comment(struct opctx *x, struct op *o)
{
	size_t r = o->rows[0];
	const char *status = op_cell(&x->tab, r, "status");
	json_t *h = json_pack("{s:s, s:i, s:i, s:I}", "comment", op_cell(&x->tab, r, "comment"),
			      "is_customer_notified", flag(op_cell(&x->tab, r, "notify")),
			      "is_visible_on_front", flag(op_cell(&x->tab, r, "visible_on_front")),
			      "parent_id", (json_int_t)o->id);
	json_t *before = json_pack("{s:s}", "comment", op_cell(&x->tab, r, "comment"));

	if (status[0])
		json_object_set_new(h, "status", json_string(status));
	json_decref(o->body);
	o->body = json_pack("{s:o}", "statusHistory", h);
	json_decref(o->before);
	o->before = before;
}

/* plan_state: cancel, hold, unhold; nothing to do when the order is already so */
static void plan_state(struct opctx *x, struct op *o)
{
	const char *state = json_string_value(json_object_get(o->found, "state"));
	enum op_kind k = x->op->kind;
	const char *already = NULL;
	json_t *before;

	state = state ? state : "";
	if (k == OP_CANCEL && strcmp(state, "canceled") == 0)
		already = "is already canceled";
	else if (k == OP_HOLD && strcmp(state, "holded") == 0)
		already = "is already on hold";
	else if (k == OP_UNHOLD && strcmp(state, "holded") != 0)
		already = "is not on hold";
	if (already) {
		o->fate = FATE_SKIPPED;
		free(o->result);
		o->result = xasprintf("order '%s' %s", o->key, already);
		return;
	}
	before = k == OP_UNHOLD
		     ? json_pack("{s:s}", "not_state", "holded")
		     : json_pack("{s:s}", "state", k == OP_CANCEL ? "canceled" : "holded");
	json_decref(o->body);
	o->body = json_object();
	json_decref(o->before);
	o->before = before;
}

static const char *const company_ints[] = {"region_id", "customer_group_id",	   "super_user_id",
					   "status",	"sales_representative_id", NULL};
/* what Magento_Company's Model\SaveValidator\RequiredFields asks of every saved company
   (Adobe Commerce only; read in a vendored copy, see tests/emulator/companies.py) */
static const char *const company_required[] = {
    "company_name",  "company_email",	  "street", "city", "postcode", "telephone", "country_id",
    "super_user_id", "customer_group_id", NULL};

static int is_int_field(const char *name)
{
	for (const char *const *n = company_ints; *n; n++)
		if (strcmp(*n, name) == 0)
			return 1;
	return 0;
}

/* plan_company: the row onto what Commerce holds; every field PUT needs */
static void plan_company(struct opctx *x, struct op *o)
{
	size_t r = o->rows[0];
	json_t *c = o->found ? json_deep_copy(o->found) : json_object();
	struct buf missing = BUF_INIT(4096);
	char msg[600];

	for (size_t i = 0; i < x->tab.cols.n; i++) {
		const char *name = x->tab.cols.v[i], *v = op_cell(&x->tab, r, name);
		if (v[0] == '\0')
			continue;
		if (strcmp(name, "super_user_email") == 0) {
			json_t *cu = json_object_get(x->customers, v);
			if (cu == NULL) {
				snprintf(msg, sizeof(msg),
					 "no customer in Commerce has the e-mail '%.255s'", v);
				op_reject_row(x, o, 0, name, msg);
				json_decref(c);
				buf_release(&missing);
				o->fate = FATE_REJECTED;
				return;
			}
			json_object_set_new(
			    c, "super_user_id",
			    json_integer(json_integer_value(json_object_get(cu, "id"))));
		} else if (strcmp(name, "street") == 0) {
			json_object_set_new(c, name, json_pack("[s]", v));
		} else if (is_int_field(name)) {
			json_object_set_new(c, name, json_integer(atoll(v)));
		} else {
			json_object_set_new(c, name, json_string(v));
		}
	}
	for (const char *const *n = company_required; *n; n++) {
		json_t *v = json_object_get(c, *n);
		if (v == NULL || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
		    (json_is_array(v) && json_array_size(v) == 0))
			buf_printf(&missing, "%s%s", missing.len ? ", " : "", *n);
	}
	if (missing.len) {
		snprintf(msg, sizeof(msg),
			 "company '%.255s' is not in Commerce and the row lacks what a new company "
			 "needs: %s",
			 o->key, buf_cstr(&missing));
		op_reject_row(x, o, 0, NULL, msg);
		o->fate = FATE_REJECTED;
		json_decref(c);
	} else {
		json_decref(o->body);
		o->body = json_pack("{s:o}", "company", c);
	}
	buf_release(&missing);
}

void op_check(struct opctx *x, struct op *o)
{
	char msg[300];

	if (x->op->kind != OP_COMPANY && o->found == NULL) {
		snprintf(msg, sizeof(msg), "order '%.64s' is not in Commerce", o->key);
		for (size_t k = 0; k < o->nrows; k++)
			op_reject_row(x, o, k, "order", msg);
		o->fate = FATE_REJECTED;
		return;
	}
	switch (x->op->kind) {
	case OP_SHIP:
	case OP_INVOICE:
	case OP_REFUND:
		plan_items(x, o);
		break;
	case OP_COMMENT:
		plan_comment(x, o);
		break;
	case OP_COMPANY:
		plan_company(x, o);
		break;
	default:
		plan_state(x, o);
		break;
	}
	/* kept as text: 10,000 requests as JSON trees would be most of the memory */
	if (o->before) {
		free(o->expect);
		o->expect = json_dumps(o->before, JSON_COMPACT);
		json_decref(o->before);
		o->before = NULL;
	}
	free(o->text);
	o->text = o->body ? json_dumps(o->body, JSON_COMPACT) : NULL;
	json_decref(o->body);
	o->body = NULL;
}

int op_present(const struct opctx *x, const struct op *o)
{
	json_t *before = o->expect ? json_loads(o->expect, 0, NULL) : NULL;
	json_t *v;
	int present = 0;

	if (o->found == NULL || before == NULL) {
		json_decref(before);
		return 0;
	}
	if ((v = json_object_get(before, "items")) != NULL) {
		const char *field = json_string_value(json_object_get(before, "field"));
		const char *id;
		json_t *want, *all = json_object_get(o->found, "items");
		present = field != NULL;
		json_object_foreach(v, id, want)
		{
			int ok = 0;
			for (size_t i = 0; i < json_array_size(all); i++) {
				json_t *it = json_array_get(all, i);
				if (json_integer_value(json_object_get(it, "item_id")) == atoll(id))
					ok = num(json_object_get(it, field)) + 1e-9 >= num(want);
			}
			present &= ok;
		}
		present = op_documents_say(before, json_object_get(o->found, "_documents"),
					   present);
	} else if ((v = json_object_get(before, "comment")) != NULL) {
		json_t *h = json_object_get(o->found, "status_histories");
		for (size_t i = 0; i < json_array_size(h); i++) {
			const char *c =
			    json_string_value(json_object_get(json_array_get(h, i), "comment"));
			present |= c && strcmp(c, json_string_value(v)) == 0;
		}
	} else if ((v = json_object_get(before, "state")) != NULL) {
		const char *st = json_string_value(json_object_get(o->found, "state"));
		present = st && strcmp(st, json_string_value(v)) == 0;
	} else if ((v = json_object_get(before, "not_state")) != NULL) {
		const char *st = json_string_value(json_object_get(o->found, "state"));
		present = st && strcmp(st, json_string_value(v)) != 0;
	}
	(void)x;
	json_decref(before);
	return present;
}

void op_not_ours(struct opctx *x, struct op *o)
{
	json_t *before = o->expect ? json_loads(o->expect, 0, NULL) : NULL;
	json_t *tracks = json_object_get(before, "tracks");
	struct buf msg = BUF_INIT(BUF_NOCAP);
	enum op_kind k = x->op->kind;

	buf_printf(&msg, "not sent again: order '%s' shows these items %s, ", o->key,
		   k == OP_SHIP ? "shipped" : k == OP_INVOICE ? "invoiced" : "refunded");
	if (json_array_size(tracks)) {
		buf_addstr(&msg, "but no shipment carries track number");
		for (size_t i = 0; i < json_array_size(tracks); i++)
			buf_printf(&msg, "%s '%s'", i ? "," : "",
				   json_string_value(json_array_get(tracks, i)));
	} else {
		buf_printf(&msg, "but no %s carries these lines",
			   k == OP_SHIP ? "shipment" : k == OP_INVOICE ? "invoice" : "credit memo");
	}
	buf_addstr(&msg, " (another system's?): check the order in Commerce");
	for (size_t r = 0; r < o->nrows; r++)
		op_reject_row(x, o, r, NULL, buf_cstr(&msg));
	o->fate = FATE_REJECTED;
	free(o->result);
	o->result = xstrdup(buf_cstr(&msg));
	buf_release(&msg);
	json_decref(before);
}

char *op_route(const struct opctx *x, const struct op *o, int bulk, const char **method)
{
	static const char *const sales[] = {
	    [OP_SHIP] = "ship", [OP_INVOICE] = "invoice", [OP_REFUND] = "refund"};
	static const char *const orders[] = {[OP_COMMENT] = "comments",
					     [OP_CANCEL] = "cancel",
					     [OP_HOLD] = "hold",
					     [OP_UNHOLD] = "unhold"};
	enum op_kind k = x->op->kind;

	*method = "POST";
	switch (k) {
	case OP_SHIP:
	case OP_INVOICE:
	case OP_REFUND:
		return bulk ? xasprintf("async/bulk/V1/order/byOrderId/%s", sales[k])
			    : xasprintf("V1/order/%lld/%s", o->id, sales[k]);
	case OP_COMPANY:
		if (o->id == 0)
			return xstrdup(bulk ? "async/bulk/V1/company" : "V1/company");
		*method = "PUT";
		return bulk ? xstrdup("async/bulk/V1/company/byCompanyId")
			    : xasprintf("V1/company/%lld", o->id);
	default:
		return bulk ? xasprintf("async/bulk/V1/orders/byId/%s", orders[k])
			    : xasprintf("V1/orders/%lld/%s", o->id, orders[k]);
	}
}

/* op_path_param: the path parameter a bulk element carries */
const char *op_path_param(const struct opctx *x)
{
	switch (x->op->kind) {
	case OP_SHIP:
	case OP_INVOICE:
	case OP_REFUND:
		return "orderId";
	case OP_COMPANY:
		return "companyId";
	default:
		return "id";
	}
}
