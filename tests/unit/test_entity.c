#include "config.h"

#include "lib/entity.h"
#include "testutil.h"

/* check: run the rule of entity.column on v; NULL when it passes, else the message. */
static const char *check(const char *entity, const char *column, const char *v, struct buf *msg)
{
	const struct entity *e = entity_find(entity);
	const struct column_rule *r;

	assert_non_null(e);
	r = entity_column(e, column);
	assert_non_null(r);
	buf_reset(msg);
	return entity_check_value(r, v, strlen(v), msg) == 0 ? NULL : buf_cstr(msg);
}

static const struct {
	const char *entity, *column, *value, *message; /* message NULL: valid */
} cases[] = {
	{ "stock_sources", "sku", "AB-1", NULL },
	{ "stock_sources", "sku", "", "sku is empty" },
	{ "stock_sources", "sku", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
	  "sku is 65 characters long; Commerce allows at most 64" },
	/* 64 characters of two bytes each is still 64 characters */
	{ "stock_sources", "sku", "ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ", NULL },
	{ "stock_sources", "quantity", "1234.5", NULL },
	{ "stock_sources", "quantity", "-3", NULL },
	{ "stock_sources", "quantity", "", NULL },
	{ "stock_sources", "quantity", "1,5",
	  "quantity '1,5' is not a number (Commerce wants a '.' decimal point and no thousands separator)" },
	{ "stock_sources", "quantity", "1.", "quantity '1.' is not a number" },
	{ "stock_sources", "quantity", "=1+2", "quantity '=1+2' is not a number" },
	{ "stock_sources", "status", "1", NULL },
	{ "stock_sources", "status", "7", "status '7' must be 0 or 1 (1 in stock, 0 out of stock)" },
	{ "stock_sources", "source_code", "", "source_code is empty" },
	{ "catalog_product", "product_type", "simple", NULL },
	{ "catalog_product", "product_type", "kit",
	  "product_type 'kit' is not one of: simple, configurable, virtual, bundle, grouped, downloadable, giftcard" },
	{ "catalog_product", "visibility", "Catalog, Search", NULL },
	{ "catalog_product", "visibility", "everywhere", "visibility 'everywhere' is not one of" },
	{ "catalog_product", "price", "-1", "price '-1' must not be negative" },
	{ "catalog_product", "product_online", "yes", "product_online 'yes' must be 0 or 1" },
	{ "advanced_pricing", "tier_price_value_type", "Discount", NULL },
	{ "advanced_pricing", "tier_price_value_type", "percent", "tier_price_value_type 'percent' is not one of: Fixed, Discount" },
	{ "advanced_pricing", "tier_price_qty", "0", "tier_price_qty must be greater than 0" },
	{ "customer", "email", "c0@example.com", NULL },
	{ "customer", "email", "zoë@exämple.de", NULL },
	{ "customer", "email", "c0@example", "email 'c0@example' is not an e-mail address" },
	{ "customer", "email", "c0 @example.com", "is not an e-mail address" },
	{ "customer", "email", "a@b@example.com", "is not an e-mail address" },
	{ "customer", "group_id", "1", NULL },
	{ "customer", "group_id", "one", "group_id 'one' is not a whole number" },
	{ "customer_address", "country_id", "DE", NULL },
	{ "customer_address", "country_id", "Germany", "country_id 'Germany' is not a two-letter country code" },
};

static void test_value_rules(void **state)
{
	struct buf msg = BUF_INIT(BUF_NOCAP);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = check(cases[i].entity, cases[i].column, cases[i].value, &msg);
		if (cases[i].message == NULL ? got != NULL
					     : got == NULL || strstr(got, cases[i].message) == NULL)
			fail_msg("%s.%s '%s': got '%s', want '%s'", cases[i].entity, cases[i].column,
				 cases[i].value, got ? got : "(valid)",
				 cases[i].message ? cases[i].message : "(valid)");
	}
	buf_release(&msg);
}

static void test_entities_behaviors_and_columns(void **state)
{
	const struct entity *e;

	(void)state;
	assert_null(entity_find("customer_finance_x"));
	e = entity_find("customer");
	assert_true(entity_behavior_ok(e, "add_update"));
	assert_false(entity_behavior_ok(e, "append"));
	e = entity_find("stock_sources");
	assert_true(entity_behavior_ok(e, "append"));
	assert_false(e->open_columns);
	assert_true(entity_column(e, "sku")->flags & COL_KEY);
	assert_true(entity_column(e, "source_code")->flags & COL_KEY);
	assert_true(entity_find("catalog_product")->open_columns);
	assert_true(entity_column_name_ok("tier_price_qty"));
	assert_true(entity_column_name_ok("_address_city"));
	assert_false(entity_column_name_ok("ItemNo"));
	assert_false(entity_column_name_ok("qty on hand"));
	assert_true(is_plain_decimal("0.5", 3));
	assert_false(is_plain_decimal(".5", 2));
	assert_false(is_plain_decimal("+5", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_rules),
		cmocka_unit_test(test_entities_behaviors_and_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
