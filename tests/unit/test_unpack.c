#include "config.h"

#include "lib/unpack.h"
#include "testutil.h"

#ifndef SAMPLES
#define SAMPLES "tests/samples"
#endif

static struct strlist csv_members(void)
{
	struct strlist l = STRLIST_INIT;

	strlist_push(&l, "*.csv");
	return l;
}

static void test_kinds_by_name(void **state)
{
	(void)state;
	assert_int_equal(unpack_kind_of("a.ZIP"), UNPACK_ZIP);
	assert_int_equal(unpack_kind_of("a.tar"), UNPACK_TAR);
	assert_int_equal(unpack_kind_of("a.tar.gz"), UNPACK_TGZ);
	assert_int_equal(unpack_kind_of("a.tgz"), UNPACK_TGZ);
	assert_int_equal(unpack_kind_of("stock.csv.gz"), UNPACK_GZ);
	assert_int_equal(unpack_kind_of("stock.csv"), UNPACK_NONE);
}

static void test_members_in_name_order_and_read_whole(void **state)
{
	struct strlist m = csv_members();
	struct unpack_limits lim;
	struct buf err = BUF_INIT(BUF_NOCAP), text = BUF_INIT(BUF_NOCAP);
	struct unpack *u;
	char block[7];
	ssize_t n;

	(void)state;
	unpack_default_limits(&lim);
	u = unpack_open(SAMPLES "/archives/parts.zip", "parts.zip", UNPACK_ZIP, &m, &lim, &err);
	assert_non_null(u);
	assert_int_equal(unpack_count(u), 2); /* README.txt and the directory are not selected */
	assert_string_equal(unpack_member(u, 0), "export/a_part1.csv");
	assert_string_equal(unpack_member(u, 1), "export/b_part2.csv");
	/* read the second first, then the first: the archive is read again as needed */
	for (int k = 1; k >= 0; k--) {
		buf_reset(&text);
		assert_int_equal(unpack_begin(u, (size_t)k, &err), 0);
		while ((n = unpack_read(u, block, sizeof(block), &err)) > 0)
			buf_add(&text, block, (size_t)n);
		assert_int_equal(n, 0);
		assert_string_equal(buf_cstr(&text), k ? "sku,quantity,source_code,status\nAB-2,5,default,1\nAB-3,x,default,1\n"
						       : "sku,quantity,source_code,status\nAB-1,4,default,1\nAB-2,6,default,1\n");
	}
	unpack_close(u);
	strlist_clear(&m);
	buf_release(&err);
	buf_release(&text);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *file;
		enum unpack_kind kind;
		const char *message;
	} cases[] = {
		{ SAMPLES "/bad/path_traversal.zip", UNPACK_ZIP, "has '..' in its path" },
		{ SAMPLES "/archives/symlink.tar", UNPACK_TAR, "'stock.csv' is a symbolic link" },
		{ SAMPLES "/archives/hardlink.tar", UNPACK_TAR, "'b.csv' is a hard link" },
		{ SAMPLES "/archives/absolute.tar", UNPACK_TAR, "has an absolute path" },
		{ SAMPLES "/archives/nested.zip", UNPACK_ZIP, "'inner.zip' is an archive inside the archive" },
		{ SAMPLES "/archives/encrypted.zip", UNPACK_ZIP, "'secret.csv' is encrypted" },
		{ SAMPLES "/erp/stock_full_20261127T0200.csv", UNPACK_ZIP, "not a readable zip archive" },
	};
	struct strlist m = csv_members();
	struct unpack_limits lim;
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	unpack_default_limits(&lim);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&err);
		if (unpack_open(cases[i].file, "x", cases[i].kind, &m, &lim, &err) != NULL ||
		    strstr(buf_cstr(&err), cases[i].message) == NULL)
			fail_msg("%s: got '%s', want '%s'", cases[i].file, buf_cstr(&err), cases[i].message);
	}
	lim.max_members = 3;
	buf_reset(&err);
	assert_null(unpack_open(SAMPLES "/archives/many.zip", "many.zip", UNPACK_ZIP, &m, &lim, &err));
	assert_non_null(strstr(buf_cstr(&err), "more than 3 members"));
	strlist_clear(&m);
	buf_release(&err);
}

static void test_bomb_stops_at_the_ratio_with_little_read(void **state)
{
	struct strlist m = csv_members();
	struct unpack_limits lim;
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct unpack *u;
	char block[65536];
	unsigned long long total = 0;
	ssize_t n;

	(void)state;
	unpack_default_limits(&lim);
	u = unpack_open(SAMPLES "/bad/zip_bomb.zip", "zip_bomb.zip", UNPACK_ZIP, &m, &lim, &err);
	assert_non_null(u);
	assert_int_equal(unpack_begin(u, 0, &err), 0);
	while ((n = unpack_read(u, block, sizeof(block), &err)) > 0)
		total += (unsigned long long)n;
	assert_int_equal(n, -1);
	assert_non_null(strstr(buf_cstr(&err), "zip bomb"));
	assert_true(total < 8 * 1024 * 1024);
	unpack_close(u);
	strlist_clear(&m);
	buf_release(&err);
}

/* listing a tar.gz inflates every member, read or not: the caps hold there too */
static void test_listing_is_held_to_the_caps(void **state)
{
	static const struct {
		unsigned long long max_inflated;
		unsigned long max_ratio;
		const char *why;
	} cases[] = {
		{ 10 * 1024 * 1024, 100000, "inflates past 10485760 bytes" },
		{ 4ULL * 1024 * 1024 * 1024, 100, "max_ratio" },
	};
	struct strlist m = csv_members();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct unpack_limits lim;
		struct buf err = BUF_INIT(BUF_NOCAP);

		unpack_default_limits(&lim);
		lim.max_inflated = cases[i].max_inflated;
		lim.max_ratio = cases[i].max_ratio;
		/* a.csv, then pad.bin: 30 MB of zeros that members = *.csv never reads */
		assert_null(unpack_open(SAMPLES "/archives/padded.tar.gz", "padded.tar.gz", UNPACK_TGZ,
					&m, &lim, &err));
		assert_non_null(strstr(buf_cstr(&err), cases[i].why));
		buf_release(&err);
	}
	strlist_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds_by_name),
		cmocka_unit_test(test_members_in_name_order_and_read_whole),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bomb_stops_at_the_ratio_with_little_read),
		cmocka_unit_test(test_listing_is_held_to_the_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
