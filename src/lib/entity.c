#include "config.h"

#include <stdlib.h>

#include <string.h>

#include "lib/entity.h"

size_t utf8_chars(const char *v, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)v[i] & 0xc0) != 0x80;
	return n;
}

int is_plain_decimal(const char *v, size_t len)
{
	size_t i = 0, digits = 0;

	if (i < len && v[i] == '-')
		i++;
	while (i < len && v[i] >= '0' && v[i] <= '9')
		i++, digits++;
	if (digits == 0)
		return 0;
	if (i < len && v[i] == '.') {
		size_t frac = 0;
		i++;
		while (i < len && v[i] >= '0' && v[i] <= '9')
			i++, frac++;
		if (frac == 0)
			return 0;
	}
	return i == len;
}

static int check_sku(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	size_t n = len <= 64 ? len : utf8_chars(v, len); /* no more characters than bytes */

	(void)r;
	if (n > 64) {
		buf_printf(msg, "sku is %zu characters long; Commerce allows at most 64", n);
		return -1;
	}
	return 0;
}

static int check_decimal(const char *v, size_t len, const struct column_rule *r,
			 struct buf *msg)
{
	if (is_plain_decimal(v, len))
		return 0;
	buf_printf(msg, "%s '%.*s' is not a number", r->name, (int)len, v);
	if (memchr(v, ',', len) != NULL)
		buf_addstr(msg, " (Commerce wants a '.' decimal point and no thousands separator)");
	return -1;
}

static int check_nonneg(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	if (check_decimal(v, len, r, msg) < 0)
		return -1;
	if (v[0] == '-') {
		buf_printf(msg, "%s '%.*s' must not be negative", r->name, (int)len, v);
		return -1;
	}
	return 0;
}

static int check_positive(const char *v, size_t len, const struct column_rule *r,
			  struct buf *msg)
{
	if (check_nonneg(v, len, r, msg) < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (v[i] >= '1' && v[i] <= '9')
			return 0;
	buf_printf(msg, "%s must be greater than 0", r->name);
	return -1;
}

static int check_integer(const char *v, size_t len, const struct column_rule *r,
			 struct buf *msg)
{
	size_t i = 0;

	while (i < len && v[i] >= '0' && v[i] <= '9')
		i++;
	if (i == len && len > 0 && len < 10)
		return 0;
	buf_printf(msg, "%s '%.*s' is not a whole number", r->name, (int)len, v);
	return -1;
}

static int check_flag(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	if (len == 1 && (v[0] == '0' || v[0] == '1'))
		return 0;
	buf_printf(msg, "%s '%.*s' must be 0 or 1", r->name, (int)len, v);
	if (strcmp(r->name, "status") == 0)
		buf_addstr(msg, " (1 in stock, 0 out of stock)");
	return -1;
}

static int check_choice(const char *v, size_t len, const struct column_rule *r,
			struct buf *msg)
{
	for (const char *const *c = r->choices; *c; c++)
		if (strlen(*c) == len && memcmp(*c, v, len) == 0)
			return 0;
	buf_printf(msg, "%s '%.*s' is not one of: ", r->name, (int)len, v);
	for (const char *const *c = r->choices; *c; c++)
		buf_printf(msg, "%s%s", c == r->choices ? "" : ", ", *c);
	return -1;
}

static int check_email(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	const char *at = memchr(v, '@', len);
	const char *end = v + len;
	const char *dot;
	int ok = at != NULL && at > v && at + 1 < end;

	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == ',' || v[i] == ';' || v[i] == '<' ||
		    v[i] == '>' || (v + i != at && v[i] == '@'))
			ok = 0;
	if (ok) {
		dot = memchr(at + 1, '.', (size_t)(end - at - 1));
		ok = dot != NULL && dot > at + 1 && dot + 1 < end && end[-1] != '.';
	}
	if (ok)
		return 0;
	buf_printf(msg, "%s '%.*s' is not an e-mail address", r->name, (int)len, v);
	return -1;
}

static int check_country(const char *v, size_t len, const struct column_rule *r,
			 struct buf *msg)
{
	if (len == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z')
		return 0;
	buf_printf(msg, "%s '%.*s' is not a two-letter country code such as DE", r->name,
		   (int)len, v);
	return -1;
}

/* the checks other column tables use (lib/operation.c) */
int entity_check_positive(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	return check_positive(v, len, r, msg);
}

int entity_check_nonneg(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	return check_nonneg(v, len, r, msg);
}

int entity_check_integer(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	return check_integer(v, len, r, msg);
}

int entity_check_email(const char *v, size_t len, const struct column_rule *r, struct buf *msg)
{
	return check_email(v, len, r, msg);
}

static const char *const behaviors_product[] = { "append", "replace", "delete", "add_update",
						 NULL };
static const char *const behaviors_stock[] = { "append", "replace", "delete", NULL };
static const char *const behaviors_customer[] = { "add_update", "delete", "custom", NULL };
static const char *const product_types[] = { "simple",	 "configurable", "virtual",   "bundle",
					     "grouped",	 "downloadable", "giftcard", NULL };
static const char *const visibilities[] = { "Not Visible Individually", "Catalog", "Search",
					    "Catalog, Search", NULL };
static const char *const value_types[] = { "Fixed", "Discount", NULL };

static const struct column_rule stock_sources_cols[] = {
	{ "source_code", COL_REQUIRED | COL_KEY | COL_NONEMPTY, NULL, NULL, 255 },
	{ "sku", COL_REQUIRED | COL_KEY | COL_NONEMPTY, check_sku, NULL, 0 },
	{ "status", 0, check_flag, NULL, 0 },
	{ "quantity", 0, check_decimal, NULL, 0 },
	{ NULL, 0, NULL, NULL, 0 },
};

static const struct column_rule advanced_pricing_cols[] = {
	{ "sku", COL_REQUIRED | COL_KEY | COL_NONEMPTY, check_sku, NULL, 0 },
	{ "tier_price_website", COL_REQUIRED | COL_KEY | COL_NONEMPTY, NULL, NULL, 255 },
	{ "tier_price_customer_group", COL_REQUIRED | COL_KEY | COL_NONEMPTY, NULL, NULL, 255 },
	{ "tier_price_qty", COL_REQUIRED | COL_KEY | COL_NONEMPTY, check_positive, NULL, 0 },
	{ "tier_price", COL_ADD | COL_NONEMPTY, check_nonneg, NULL, 0 },
	{ "tier_price_value_type", COL_ADD | COL_NONEMPTY, check_choice, value_types, 0 },
	{ NULL, 0, NULL, NULL, 0 },
};

static const struct column_rule catalog_product_cols[] = {
	{ "sku", COL_REQUIRED | COL_KEY | COL_NONEMPTY, check_sku, NULL, 0 },
	{ "store_view_code", COL_KEY, NULL, NULL, 64 },
	{ "attribute_set_code", 0, NULL, NULL, 255 },
	{ "product_type", 0, check_choice, product_types, 0 },
	{ "name", 0, NULL, NULL, 255 },
	{ "price", 0, check_nonneg, NULL, 0 },
	{ "special_price", 0, check_nonneg, NULL, 0 },
	{ "cost", 0, check_nonneg, NULL, 0 },
	{ "weight", 0, check_nonneg, NULL, 0 },
	{ "qty", 0, check_decimal, NULL, 0 },
	{ "is_in_stock", 0, check_flag, NULL, 0 },
	{ "product_online", 0, check_flag, NULL, 0 },
	{ "visibility", 0, check_choice, visibilities, 0 },
	{ "url_key", 0, NULL, NULL, 255 },
	{ "meta_title", 0, NULL, NULL, 255 },
	{ NULL, 0, NULL, NULL, 0 },
};

static const struct column_rule customer_cols[] = {
	{ "email", COL_REQUIRED | COL_KEY | COL_NONEMPTY, check_email, NULL, 255 },
	{ "_website", COL_REQUIRED | COL_KEY | COL_NONEMPTY, NULL, NULL, 64 },
	{ "_store", 0, NULL, NULL, 64 },
	{ "firstname", COL_ADD | COL_NONEMPTY, NULL, NULL, 255 },
	{ "lastname", COL_ADD | COL_NONEMPTY, NULL, NULL, 255 },
	{ "group_id", 0, check_integer, NULL, 0 },
	{ "gender", 0, check_integer, NULL, 0 },
	{ "website_id", 0, check_integer, NULL, 0 },
	{ "store_id", 0, check_integer, NULL, 0 },
	{ "disable_auto_group_change", 0, check_flag, NULL, 0 },
	{ NULL, 0, NULL, NULL, 0 },
};

static const struct column_rule customer_address_cols[] = {
	{ "_website", COL_REQUIRED | COL_NONEMPTY, NULL, NULL, 64 },
	{ "_email", COL_REQUIRED | COL_NONEMPTY, check_email, NULL, 255 },
	{ "_entity_id", COL_KEY, check_integer, NULL, 0 },
	{ "city", COL_ADD | COL_NONEMPTY, NULL, NULL, 255 },
	{ "country_id", COL_ADD | COL_NONEMPTY, check_country, NULL, 0 },
	{ "firstname", COL_ADD | COL_NONEMPTY, NULL, NULL, 255 },
	{ "lastname", COL_ADD | COL_NONEMPTY, NULL, NULL, 255 },
	{ "street", COL_ADD | COL_NONEMPTY, NULL, NULL, 0 },
	{ "telephone", COL_ADD | COL_NONEMPTY, NULL, NULL, 255 },
	{ "postcode", 0, NULL, NULL, 255 },
	{ "_address_default_billing_", 0, check_flag, NULL, 0 },
	{ "_address_default_shipping_", 0, check_flag, NULL, 0 },
	{ NULL, 0, NULL, NULL, 0 },
};

static const struct column_rule customer_composite_cols[] = {
	/* Rows with an empty email carry a further address of the customer above. */
	{ "email", COL_REQUIRED | COL_KEY, check_email, NULL, 255 },
	{ "_website", COL_REQUIRED | COL_KEY, NULL, NULL, 64 },
	{ "_store", 0, NULL, NULL, 64 },
	{ "firstname", 0, NULL, NULL, 255 },
	{ "lastname", 0, NULL, NULL, 255 },
	{ "group_id", 0, check_integer, NULL, 0 },
	{ "_address_country_id", 0, check_country, NULL, 0 },
	{ "_address_default_billing_", 0, check_flag, NULL, 0 },
	{ "_address_default_shipping_", 0, check_flag, NULL, 0 },
	{ NULL, 0, NULL, NULL, 0 },
};

static const struct entity entities[] = {
	{ "stock_sources", behaviors_stock, stock_sources_cols, 0 },
	{ "advanced_pricing", behaviors_stock, advanced_pricing_cols, 0 },
	{ "catalog_product", behaviors_product, catalog_product_cols, 1 },
	{ "customer", behaviors_customer, customer_cols, 1 },
	{ "customer_address", behaviors_customer, customer_address_cols, 1 },
	{ "customer_composite", behaviors_stock, customer_composite_cols, 1 },
	{ NULL, NULL, NULL, 0 },
};

const struct entity *entity_find(const char *name)
{
	for (const struct entity *e = entities; e->name; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

const char *entity_names(void)
{
	return "stock_sources, advanced_pricing, catalog_product, customer, customer_address, "
	       "customer_composite";
}

const struct column_rule *entity_column(const struct entity *e, const char *name)
{
	for (const struct column_rule *r = e->columns; r->name; r++)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

int entity_behavior_ok(const struct entity *e, const char *behavior)
{
	for (const char *const *b = e->behaviors; *b; b++)
		if (strcmp(*b, behavior) == 0)
			return 1;
	return 0;
}

int entity_column_name_ok(const char *s)
{
	/* Magento's Import::isAttributeValid accepts ^[a-z][a-z0-9_]*$, and the
	   service columns that start with '_'. */
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

int entity_check_value(const struct column_rule *r, const char *v, size_t len, struct buf *msg)
{
	if (len == 0) {
		if (!(r->flags & COL_NONEMPTY))
			return 0;
		buf_printf(msg, "%s is empty", r->name);
		return -1;
	}
	if (r->max_chars && len > r->max_chars && utf8_chars(v, len) > r->max_chars) {
		buf_printf(msg, "%s is %zu characters long; Commerce allows at most %zu", r->name,
			   utf8_chars(v, len), r->max_chars);
		return -1;
	}
	return r->check ? r->check(v, len, r, msg) : 0;
}
