/* Operation feeds: their keys, their rows' columns, and the ledger's operations table. */
#include "config.h"

#include "lib/conf.h"
#include "lib/entity.h"
#include "testledger.h"
#include "lib/loadconf.h"
#include "lib/operation.h"
#include "orders/opstate.h"
#include "queue/ledger.h"
#include "queue/operations.h"
#include "testconf.h"
#include "testutil.h"
#include "util/xalloc.h"

#define BASE                                                                                       \
	"[dropgate]\n[commerce]\nurl = https://shop.example.com\ntoken_file = "                    \
	"/etc/dropgate/token\n"

static void test_an_operation_feed_and_its_defaults(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(BASE "[feed ship]\ndir = in/ship\noperation = ship\nmap.order = No\n"
				   "map.sku = Sku\nmap.qty = Qty | number(\".\")\n",
			      &err);
	const struct feed *f;
	const struct target *t;

	(void)state;
	assert_non_null(c);
	f = conf_feed(c, "ship");
	t = conf_target(c, "default");
	assert_non_null(f->operation);
	assert_int_equal(f->operation->kind, OP_SHIP);
	assert_ptr_equal(f->entity, f->operation->entity);
	assert_int_equal(f->group_by_order, 1);
	assert_int_equal(f->page_size, 100);
	assert_int_equal(t->bulk, 1);
	assert_int_equal(t->bulk_wait, 30 * 60);
	assert_int_equal(t->concurrency, 4);
	conf_free(c);
	buf_release(&err);
}

static const struct {
	const char *ini;
	const char *message;
} bad[] = {
    {BASE "[feed a]\ndir = x\noperation = fly\n", "unknown operation 'fly' (known: ship, invoice"},
    {BASE "[feed a]\ndir = x\nentity = stock_sources\noperation = ship\n",
     "a feed takes entity or operation, not both"},
    {BASE "[feed a]\ndir = x\noperation = ship\nentity = stock_sources\n",
     "a feed takes entity or operation, not both"},
    {BASE "[feed a]\ndir = x\noperation = ship\nmap.order = No\nmap.sku = S\n",
     "ship needs the column 'qty': add map.qty"},
    {BASE "[feed a]\ndir = x\noperation = ship\nmap.order = No\nmap.sku = S\nmap.qty = Q\n"
	  "map.price = P\n",
     "map.price: ship has no column 'price'"},
    {BASE "[feed a]\ndir = x\noperation = company\nmap.company_name = N\n",
     "company needs the column 'company_email'"},
    {BASE "[feed a]\ndir = x\noperation = cancel\ngroup_by = sku\nmap.order = No\n",
     "group_by: 'sku' is not one of: order, row"},
    {BASE "[feed a]\ndir = x\noperation = cancel\npage_size = 0\nmap.order = No\n",
     "page_size: '0' is not a whole number from 1 to 1000"},
    {"[dropgate]\n[commerce]\nurl = https://x.example\ntoken_file = /t\nbulk = maybe\n",
     "bulk: 'maybe' is not yes or no"},
    {"[dropgate]\n[commerce]\nurl = https://x.example\ntoken_file = /t\nconcurrency = 0\n",
     "concurrency: '0' is not a whole number from 1 to 64"},
    {BASE "[feed a]\ndir = x\n", "entity (or operation) is required"},
};

static void test_bad_operation_keys_are_named(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf *c = load(bad[i].ini, &err);
		if (c != NULL || strstr(buf_cstr(&err), bad[i].message) == NULL)
			fail_msg("case %zu: wanted '%s', got '%s'", i, bad[i].message,
				 buf_cstr(&err));
	}
	buf_release(&err);
}

static void test_row_values_are_checked_like_an_import_s(void **state)
{
	const struct operation *ship = operation_find("ship");
	const struct operation *refund = operation_find("refund");
	const struct operation *company = operation_find("company");
	struct buf msg = BUF_INIT(BUF_NOCAP);
	const struct {
		const struct operation *op;
		const char *column, *value, *message; /* NULL: accepted */
	} cases[] = {
	    {ship, "qty", "2", NULL},
	    {ship, "qty", "0.5", NULL},
	    {ship, "qty", "0", "qty must be greater than 0"},
	    {ship, "qty", "-1", "qty '-1' must not be negative"},
	    {ship, "qty", "1,5", "qty '1,5' is not a number (Commerce wants a '.' decimal point and no thousands separator)"},
	    {ship, "order", "", "order is empty"},
	    {ship, "notify", "yes", NULL},
	    {ship, "notify", "perhaps", "notify 'perhaps' is not yes or no"},
	    {refund, "return_to_stock", "No", NULL},
	    {refund, "shipping_amount", "4.95", NULL},
	    {refund, "adjustment_negative", "-1", "adjustment_negative '-1' must not be negative"},
	    {company, "company_email", "info@acme.example", NULL},
	    {company, "company_email", "acme", "company_email 'acme' is not an e-mail address"},
	    {company, "region_id", "82", NULL},
	    {company, "region_id", "Berlin", "region_id 'Berlin' is not a whole number"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct column_rule *r = entity_column(cases[i].op->entity, cases[i].column);
		int rc;
		assert_non_null(r);
		buf_reset(&msg);
		rc = entity_check_value(r, cases[i].value, strlen(cases[i].value), &msg);
		if (cases[i].message == NULL && rc != 0)
			fail_msg("case %zu: refused: %s", i, buf_cstr(&msg));
		if (cases[i].message && (rc == 0 || strcmp(buf_cstr(&msg), cases[i].message) != 0))
			fail_msg("case %zu: wanted '%s', got '%s'", i, cases[i].message,
				 buf_cstr(&msg));
	}
	assert_int_equal(operation_flag("Yes"), 1);
	assert_int_equal(operation_flag("0"), 0);
	assert_int_equal(operation_flag(""), 0);
	assert_int_equal(operation_flag("maybe"), -1);
	assert_null(operation_find("entity"));
	assert_ptr_equal(operation_of(OP_UNHOLD), operation_find("unhold"));
	buf_release(&msg);
}

static void test_search_values_are_escaped(void **state)
{
	struct buf out = BUF_INIT(BUF_NOCAP);

	(void)state;
	query_escape(&out, "100000001,a b&c=d[0]/é");
	assert_string_equal(buf_cstr(&out), "100000001%2Ca%20b%26c%3Dd%5B0%5D%2F%C3%A9");
	buf_release(&out);
}

struct seen {
	unsigned n;
	char states[8][16];
	char uuids[8][64];
	char results[8][64];
};

static void collect(void *ctx, const struct ledger_op *op)
{
	struct seen *s = ctx;

	assert_int_equal(op->no, s->n);
	snprintf(s->states[s->n], sizeof(s->states[0]), "%s", op->state);
	snprintf(s->uuids[s->n], sizeof(s->uuids[0]), "%s", op->uuid);
	snprintf(s->results[s->n], sizeof(s->results[0]), "%s", op->result);
	s->n++;
}

static void test_operations_are_recorded_and_read_back(void **state)
{
	struct buf err = BUF_INIT(4096);
	char path[512];
	struct ledger *l;
	long long id;
	struct ledger_op v[2] = {{0, "sent", "", 0, 1, "{\"expect\":null}", NULL},
				 {1, "sent", "", 0, 1, NULL, NULL}};
	struct seen s = {0};

	(void)state;
	test_ledger_location(path, sizeof(path));
	l = ledger_open(path, &err);
	assert_non_null(l);
	id = ledger_add(l, "acme", "shipments", "wms.csv", "/x", 10, 0);
	assert_true(id > 0);
	assert_int_equal(ledger_ops_put(l, id, "default", v, 2), 0);
	snprintf(v[0].state, sizeof(v[0].state), "open");
	snprintf(v[0].uuid, sizeof(v[0].uuid), "b7b0c1d2");
	snprintf(v[1].state, sizeof(v[1].state), "refused");
	v[1].result = "The order does not allow a shipment to be created.";
	assert_int_equal(ledger_ops_put(l, id, "default", v, 2), 0); /* replaces, in one commit */
	ledger_ops_load(l, id, "default", collect, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.states[0], "open");
	assert_string_equal(s.uuids[0], "b7b0c1d2");
	assert_string_equal(s.states[1], "refused");
	assert_string_equal(s.results[1], "The order does not allow a shipment to be created.");
	assert_int_equal(ledger_ops_count(l, id, "refused"), 1);
	s.n = 0;
	ledger_ops_load(l, id, "other-target", collect, &s);
	assert_int_equal(s.n, 0);
	ledger_close(l);
	buf_release(&err);
}

static int say(const char *expect, const char *docs, int quantities_there)
{
	json_t *e = json_loads(expect, 0, NULL), *d = docs ? json_loads(docs, 0, NULL) : NULL;
	int r;

	assert_non_null(e);
	r = op_documents_say(e, d, quantities_there);
	json_decref(e);
	json_decref(d);
	return r;
}

static void test_unknown_fates_are_told_by_their_documents(void **state)
{
	const char *ship = "{\"field\":\"qty_shipped\",\"items\":{\"7\":2},\"lines\":{\"7\":2},"
			   "\"tracks\":[\"T1\",\"T2\"]}";
	const char *theirs = "[{\"lines\":{\"7\":2},\"tracks\":[\"OTHER\"]}]";
	const char *ours = "[{\"lines\":{\"7\":2},\"tracks\":[\"OTHER\"]},"
			   "{\"lines\":{\"7\":1},\"tracks\":[\"T2\",\"T1\"]}]";
	const char *invoice = "{\"field\":\"qty_invoiced\",\"items\":{\"7\":3,\"8\":1},"
			      "\"lines\":{\"7\":2,\"8\":1}}";

	(void)state;
	/* a shipment is ours by its track numbers, all of them, whatever its quantities */
	assert_int_equal(say(ship, ours, 1), 1);
	assert_int_equal(say(ship, ours, 0), 1);
	/* the items shipped under another track: someone else's, never resent; not shipped: resent */
	assert_int_equal(say(ship, theirs, 1), -1);
	assert_int_equal(say(ship, "[{\"lines\":{\"7\":2},\"tracks\":[\"T1\"]}]", 1), -1);
	assert_int_equal(say(ship, "[]", 0), 0);
	/* an invoice or credit memo: its lines (others may be on it too), on top of the quantities */
	assert_int_equal(say(invoice, "[{\"lines\":{\"7\":2,\"8\":1,\"9\":4}}]", 1), 1);
	assert_int_equal(say(invoice, "[{\"lines\":{\"7\":2,\"8\":1}}]", 0), 0);
	assert_int_equal(say(invoice, "[{\"lines\":{\"7\":3}},{\"lines\":{\"8\":1}}]", 1), -1);
	assert_int_equal(say(invoice, "[{\"lines\":{\"7\":2.0,\"8\":\"1.0000\"}}]", 1), 1);
	/* documents not looked up, or an expectation recorded without its lines: quantities decide */
	assert_int_equal(say(invoice, NULL, 1), 1);
	assert_int_equal(say(invoice, NULL, 0), 0);
	assert_int_equal(say("{\"field\":\"qty_shipped\",\"items\":{\"7\":2}}", "[]", 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_an_operation_feed_and_its_defaults),
	    cmocka_unit_test(test_bad_operation_keys_are_named),
	    cmocka_unit_test(test_row_values_are_checked_like_an_import_s),
	    cmocka_unit_test(test_search_values_are_escaped),
	    cmocka_unit_test(test_unknown_fates_are_told_by_their_documents),
	    cmocka_unit_test_setup_teardown(test_operations_are_recorded_and_read_back,
					    tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
