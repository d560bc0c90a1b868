/*
 * operation - the columns each REST operation's rows take (operation.h).
 * Column names are those of Commerce's request bodies (ShipOrderInterface,
 * InvoiceOrderInterface, RefundOrderInterface, OrderManagementInterface and
 * Magento_Company's CompanyInterface), plus `order` (the increment_id the
 * partner knows) and `super_user_email` (resolved to super_user_id).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "lib/entity.h"
#include "lib/operation.h"
#include "util/buf.h"

int operation_flag(const char *v)
{
	static const char *const yes[] = {"yes", "1", "true", "on", "y", NULL};
	static const char *const no[] = {"no", "0", "false", "off", "n", "", NULL};

	for (const char *const *w = yes; *w; w++)
		if (strcasecmp(v, *w) == 0)
			return 1;
	for (const char *const *w = no; *w; w++)
		if (strcasecmp(v, *w) == 0)
			return 0;
	return -1;
}

static int check_yesno(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	char tmp[8];

	if (len < sizeof(tmp)) {
		memcpy(tmp, v, len);
		tmp[len] = '\0';
		if (operation_flag(tmp) >= 0)
			return 0;
	}
	buf_printf(msg, "%s '%.*s' is not yes or no", r->name, (int)len, v);
	return -1;
}

static const char *const behaviors_none[] = {"append", NULL};

#define ORDER_COL                                                                                  \
	{                                                                                          \
		"order", COL_REQUIRED | COL_NONEMPTY, NULL, NULL, 32                               \
	}
#define END_COL                                                                                    \
	{                                                                                          \
		NULL, 0, NULL, NULL, 0                                                             \
	}

static const struct column_rule ship_cols[] = {
    ORDER_COL,
    {"sku", COL_REQUIRED | COL_NONEMPTY, NULL, NULL, 64},
    {"qty", COL_REQUIRED | COL_NONEMPTY, entity_check_positive, NULL, 0},
    {"track_number", 0, NULL, NULL, 255},
    {"carrier_code", 0, NULL, NULL, 32},
    {"title", 0, NULL, NULL, 255},
    {"notify", 0, check_yesno, NULL, 0},
    {"comment", 0, NULL, NULL, 0},
    END_COL,
};

static const struct column_rule invoice_cols[] = {
    ORDER_COL,
    {"sku", COL_REQUIRED | COL_NONEMPTY, NULL, NULL, 64},
    {"qty", COL_REQUIRED | COL_NONEMPTY, entity_check_positive, NULL, 0},
    {"capture", 0, check_yesno, NULL, 0},
    {"notify", 0, check_yesno, NULL, 0},
    END_COL,
};

static const struct column_rule refund_cols[] = {
    ORDER_COL,
    {"sku", COL_REQUIRED | COL_NONEMPTY, NULL, NULL, 64},
    {"qty", COL_REQUIRED | COL_NONEMPTY, entity_check_positive, NULL, 0},
    {"return_to_stock", 0, check_yesno, NULL, 0},
    {"notify", 0, check_yesno, NULL, 0},
    {"shipping_amount", 0, entity_check_nonneg, NULL, 0},
    {"adjustment_positive", 0, entity_check_nonneg, NULL, 0},
    {"adjustment_negative", 0, entity_check_nonneg, NULL, 0},
    END_COL,
};

static const struct column_rule comment_cols[] = {
    ORDER_COL,
    {"comment", COL_REQUIRED | COL_NONEMPTY, NULL, NULL, 0},
    {"status", 0, NULL, NULL, 32},
    {"notify", 0, check_yesno, NULL, 0},
    {"visible_on_front", 0, check_yesno, NULL, 0},
    END_COL,
};

static const struct column_rule state_cols[] = {
    {"order", COL_REQUIRED | COL_NONEMPTY | COL_KEY, NULL, NULL, 32},
    END_COL,
};

/* Magento_Company's CompanyInterface fields; super_user_email is resolved to super_user_id */
static const struct column_rule company_cols[] = {
    {"company_email", COL_REQUIRED | COL_NONEMPTY | COL_KEY, entity_check_email, NULL, 255},
    {"company_name", 0, NULL, NULL, 40},
    {"legal_name", 0, NULL, NULL, 80},
    {"vat_tax_id", 0, NULL, NULL, 40},
    {"reseller_id", 0, NULL, NULL, 40},
    {"comment", 0, NULL, NULL, 0},
    {"street", 0, NULL, NULL, 0},
    {"city", 0, NULL, NULL, 40},
    {"country_id", 0, NULL, NULL, 2},
    {"region", 0, NULL, NULL, 40},
    {"region_id", 0, entity_check_integer, NULL, 0},
    {"postcode", 0, NULL, NULL, 30},
    {"telephone", 0, NULL, NULL, 20},
    {"customer_group_id", 0, entity_check_integer, NULL, 0},
    {"sales_representative_id", 0, entity_check_integer, NULL, 0},
    {"super_user_id", 0, entity_check_integer, NULL, 0},
    {"super_user_email", 0, entity_check_email, NULL, 255},
    {"status", 0, entity_check_integer, NULL, 0},
    END_COL,
};

static const struct entity op_entities[] = {
    {"ship", behaviors_none, ship_cols, 0},	{"invoice", behaviors_none, invoice_cols, 0},
    {"refund", behaviors_none, refund_cols, 0}, {"comment", behaviors_none, comment_cols, 0},
    {"cancel", behaviors_none, state_cols, 0},	{"hold", behaviors_none, state_cols, 0},
    {"unhold", behaviors_none, state_cols, 0},	{"company", behaviors_none, company_cols, 0},
};

static const struct operation operations[] = {
    {"ship", OP_SHIP, &op_entities[0], "order"},
    {"invoice", OP_INVOICE, &op_entities[1], "order"},
    {"refund", OP_REFUND, &op_entities[2], "order"},
    {"comment", OP_COMMENT, &op_entities[3], "order"},
    {"cancel", OP_CANCEL, &op_entities[4], "order"},
    {"hold", OP_HOLD, &op_entities[5], "order"},
    {"unhold", OP_UNHOLD, &op_entities[6], "order"},
    {"company", OP_COMPANY, &op_entities[7], "company_email"},
    {NULL, OP_NONE, NULL, NULL},
};

const struct operation *operation_find(const char *name)
{
	for (const struct operation *o = operations; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

const struct operation *operation_of(enum op_kind kind)
{
	for (const struct operation *o = operations; o->name; o++)
		if (o->kind == kind)
			return o;
	return NULL;
}

const char *operation_names(void)
{
	return "ship, invoice, refund, comment, cancel, hold, unhold, company";
}
