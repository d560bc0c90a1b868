#include "config.h"

#include "lib/mapping.h"
#include "testutil.h"

struct problems {
	struct buf text;
};

static void on_problem(void *ctx, size_t column, const char *source, struct strview value,
		       const char *message)
{
	struct problems *p = ctx;

	buf_printf(&p->text, "%zu:%s:%.*s:%s\n", column, source ? source : "-", (int)value.len,
		   value.p, message);
}

/* map_one: compile `expr` for column c, apply it to one value of source column "src". */
static int map_one(const char *expr, const char *value, struct buf *result, struct buf *problem)
{
	struct mapping *m = mapping_new();
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct strview header[2] = { { "src", 3 }, { "other", 5 } };
	struct strview fields[2] = { { value, strlen(value) }, { "o", 1 } };
	struct problems pr = { BUF_INIT(BUF_NOCAP) };
	struct map_row row;
	int srcidx[1];
	int n;

	assert_int_equal(mapping_add(m, "c", expr, NULL, NULL, &err), 0);
	assert_int_equal(mapping_bind(m, header, 2, 0, srcidx, &err), 0);
	map_row_init(&row, 4096);
	n = mapping_apply(m, srcidx, fields, 2, &row, on_problem, &pr);
	buf_reset(result);
	buf_add(result, row.values[0].p, row.values[0].len);
	buf_reset(problem);
	buf_addstr(problem, buf_cstr(&pr.text));
	map_row_release(&row);
	mapping_free(m);
	buf_release(&err);
	buf_release(&pr.text);
	return n;
}

static const struct {
	const char *expr, *in, *out;
} good[] = {
	{ "src", " as is ", " as is " },
	{ "src | trim", " \t ab-1 \xc2\xa0", "ab-1" },
	{ "src | trim | upper", " ab-10001 ", "AB-10001" },
	{ "src | lower", "MiXeD-ÄÖÜ-×-Ł", "mixed-äöü-×-Ł" },
	{ "src | upper", "straße-é-÷-ÿ", "STRAßE-É-÷-ÿ" },
	{ "src | number(\",\", \".\")", "1.234,500", "1234.5" },
	{ "src | number(\",\", \".\")", "3,000", "3" },
	{ "src | number(\",\", \".\")", "0,000", "0" },
	{ "src | number(\",\", \".\")", "-12,50", "-12.5" },
	{ "src | number(\",\", \".\")", "1.234.567", "1234567" },
	{ "src | number(\".\")", "007.10", "7.1" },
	{ "src | number(\".\")", "-0.00", "0" },
	{ "src | number(\".\", \",\")", " 12,345.6 ", "12345.6" },
	{ "src | number(\",\", \".\") | instock", "1.234,500", "1" },
	{ "src | number(\",\", \".\") | instock", "0,000", "0" },
	{ "src | number(\",\", \".\") | instock", "-3,0", "0" },
	{ "src | default(\"n/a\")", "", "n/a" },
	{ "src | default(\"n/a\")", "x", "x" },
	{ "src | date(\"%d.%m.%Y\")", "27.11.2026", "2026-11-27" },
	{ "src | date(\"%d.%m.%Y %H:%M\")", "27.11.2026 06:05", "2026-11-27 06:05:00" },
	{ "\"fixed\"", "ignored", "fixed" },
	{ "\"a \\\"quoted\\\" | pipe\"", "", "a \"quoted\" | pipe" },
	{ "src | required | trim", " x ", "x" },
};

static void test_filters(void **state)
{
	struct buf out = BUF_INIT(BUF_NOCAP), prob = BUF_INIT(BUF_NOCAP);

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int n = map_one(good[i].expr, good[i].in, &out, &prob);
		if (n != 0 || strcmp(buf_cstr(&out), good[i].out) != 0)
			fail_msg("%s on '%s': got '%s' (%s), want '%s'", good[i].expr, good[i].in,
				 buf_cstr(&out), buf_cstr(&prob), good[i].out);
	}
	buf_release(&out);
	buf_release(&prob);
}

static const struct {
	const char *expr, *in, *problem;
} bad[] = {
	{ "src | number(\",\", \".\")", "12a", "0:src:12a:'12a' is not a number written like 1.234,5\n" },
	{ "src | number(\",\", \".\")", "1.23,4", "0:src:1.23,4:'1.23,4' is not a number written like 1.234,5\n" },
	{ "src | number(\".\")", "1,5", "0:src:1,5:'1,5' is not a number written like 1234.5\n" },
	{ "src | instock", "many", "0:src:many:'many' is not a quantity, so in or out of stock cannot be told\n" },
	{ "src | required", "  ", "0:src:  :a value is required\n" },
	{ "src | date(\"%Y-%m-%d\")", "27.11.2026", "0:src:27.11.2026:'27.11.2026' is not a date in the form %Y-%m-%d\n" },
};

static void test_filter_problems_name_the_partner_column(void **state)
{
	struct buf out = BUF_INIT(BUF_NOCAP), prob = BUF_INIT(BUF_NOCAP);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = map_one(bad[i].expr, bad[i].in, &out, &prob);
		if (n != 1 || strcmp(buf_cstr(&prob), bad[i].problem) != 0)
			fail_msg("%s on '%s': got %d '%s', want '%s'", bad[i].expr, bad[i].in, n,
				 buf_cstr(&prob), bad[i].problem);
	}
	buf_release(&out);
	buf_release(&prob);
}

static void test_lookup_table(void **state)
{
	char *path = TMPFILE("de,Germany\nat,Austria\n\"x,y\",\"comma, inside\"\n");
	struct buf out = BUF_INIT(BUF_NOCAP), prob = BUF_INIT(BUF_NOCAP);
	char expr[256];

	(void)state;
	snprintf(expr, sizeof(expr), "src | trim | lower | lookup(%s)", path);
	assert_int_equal(map_one(expr, " DE ", &out, &prob), 0);
	assert_string_equal(buf_cstr(&out), "Germany");
	assert_int_equal(map_one(expr, "x,y", &out, &prob), 0);
	assert_string_equal(buf_cstr(&out), "comma, inside");
	assert_int_equal(map_one(expr, "fr", &out, &prob), 1);
	assert_non_null(strstr(buf_cstr(&prob), "'fr' is not in the lookup table"));
	unlink(path);
	free(path);
	buf_release(&out);
	buf_release(&prob);
}

static void test_compile_errors(void **state)
{
	static const struct {
		const char *expr, *err;
	} cases[] = {
		{ "src | shout", "unknown filter 'shout'" },
		{ "src | number", "number() takes 1 to 2 arguments, not 0" },
		{ "src | number(\",,\")", "one-character separators" },
		{ "src | number(\",\", \",\")", "must differ" },
		{ "src | trim(\"x\")", "trim takes no arguments" },
		{ "src | default(\"x", "unterminated" },
		{ "\"open", "is not a closed \"string\"" },
		{ "", "empty expression" },
		{ "src | lookup(/nonexistent/table.csv)", "cannot read /nonexistent/table.csv" },
	};
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mapping *m = mapping_new();
		buf_reset(&err);
		if (mapping_add(m, "c", cases[i].expr, NULL, NULL, &err) != -1 ||
		    strstr(buf_cstr(&err), cases[i].err) == NULL)
			fail_msg("'%s': got '%s', want '%s'", cases[i].expr, buf_cstr(&err),
				 cases[i].err);
		mapping_free(m);
	}
	buf_release(&err);
}

static void test_bind_names_every_missing_column(void **state)
{
	struct mapping *m = mapping_new();
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct strview header[1] = { { "ItemNo", 6 } };
	int srcidx[3];

	(void)state;
	mapping_add(m, "sku", "ItemNo | trim", NULL, NULL, &err);
	mapping_add(m, "quantity", "QtyOnHand", NULL, NULL, &err);
	mapping_add(m, "status", "Status", NULL, NULL, &err);
	assert_int_equal(mapping_bind(m, header, 1, 0, srcidx, &err), -1);
	assert_string_equal(buf_cstr(&err),
			    "required columns 'QtyOnHand', 'Status' are missing from the header");
	assert_int_equal(mapping_add(m, "sku", "x", NULL, NULL, &err), -1);
	mapping_free(m);
	/* header = no: columns by position */
	m = mapping_new();
	buf_reset(&err);
	mapping_add(m, "sku", "2", NULL, NULL, &err);
	assert_int_equal(mapping_bind(m, header, 3, 1, srcidx, &err), 0);
	assert_int_equal(srcidx[0], 1);
	mapping_free(m);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_filter_problems_name_the_partner_column),
		cmocka_unit_test(test_lookup_table),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_bind_names_every_missing_column),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
