#include "config.h"

#include "testutil.h"
#include "util/buf.h"
#include "util/strlist.h"

static void test_add_and_cstr(void **state)
{
	struct buf b = BUF_INIT(BUF_NOCAP);

	(void)state;
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_addstr(&b, "stock"), 0);
	assert_int_equal(buf_addch(&b, '-'), 0);
	assert_int_equal(buf_printf(&b, "%04d", 7), 0);
	assert_string_equal(buf_cstr(&b), "stock-0007");
	assert_int_equal(b.len, 10);
	buf_truncate(&b, 5);
	assert_string_equal(buf_cstr(&b), "stock");
	buf_release(&b);
}

static void test_cap_refuses_and_keeps_contents(void **state)
{
	struct buf b = BUF_INIT(8);

	(void)state;
	assert_int_equal(buf_addstr(&b, "12345678"), 0);
	assert_int_equal(buf_addch(&b, '9'), -1);
	assert_int_equal(buf_printf(&b, "%s", "x"), -1);
	assert_string_equal(buf_cstr(&b), "12345678");
	assert_true(b.alloc <= 9);
	buf_release(&b);
}

static void test_detach_hands_over_memory(void **state)
{
	struct buf b = BUF_INIT(BUF_NOCAP);
	char *s;

	(void)state;
	buf_addstr(&b, "mine");
	s = buf_detach(&b);
	assert_string_equal(s, "mine");
	assert_int_equal(b.len, 0);
	assert_null(b.data);
	free(s);
	s = buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
}

static void test_strlist_split_and_match(void **state)
{
	struct strlist l = STRLIST_INIT;

	(void)state;
	strlist_split(&l, "  *.csv, *.csv.gz\t*.zip ,");
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[1], "*.csv.gz");
	assert_true(strlist_match(&l, "stock.csv.gz"));
	assert_true(strlist_match(&l, "a.zip"));
	assert_false(strlist_match(&l, "a.xml"));
	assert_false(strlist_match(&l, ".hidden.csv")); /* dot-files never match */
	assert_true(strlist_has(&l, "*.zip"));
	strlist_clear(&l);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_cstr),
		cmocka_unit_test(test_cap_refuses_and_keeps_contents),
		cmocka_unit_test(test_detach_hands_over_memory),
		cmocka_unit_test(test_strlist_split_and_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
