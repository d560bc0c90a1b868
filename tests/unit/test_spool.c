#include "config.h"

#include <sys/stat.h>
#include <zlib.h>

#include "queue/spool.h"
#include "testutil.h"

static void put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_names_never_picked_up(void **state)
{
	(void)state;
	assert_true(spool_ignored_name(".hidden.csv"));
	assert_true(spool_ignored_name("a.csv.part"));
	assert_true(spool_ignored_name("a.csv.filepart"));
	assert_true(spool_ignored_name("a.tmp"));
	assert_true(spool_ignored_name("a.csv.ok"));
	assert_false(spool_ignored_name("stock.csv"));
	assert_false(spool_ignored_name("partners.csv"));
}

static void test_move_link_gzip_and_hash(void **state)
{
	char a[128], b[128], c[128], g[128], sub[128], hex[65];
	struct buf err = BUF_INIT(4096);
	struct stat st;
	gzFile gz;
	char back[64] = "";

	(void)state;
	snprintf(a, sizeof(a), "%s/in.csv", test_dir);
	snprintf(sub, sizeof(sub), "%s/work/7", test_dir);
	snprintf(b, sizeof(b), "%s/work/7/in.csv", test_dir);
	snprintf(c, sizeof(c), "%s/work/7/second.csv", test_dir);
	snprintf(g, sizeof(g), "%s/archive.gz", test_dir);
	put(a, "abc");
	assert_int_equal(mkdirs(sub, 0750, &err), 0);
	assert_int_equal(mkdirs(sub, 0750, &err), 0); /* again: fine */
	assert_int_equal(spool_move(a, b, &err), 0);
	assert_int_equal(access(a, F_OK), -1);
	assert_int_equal(spool_link_or_copy(b, c, &err), 0);
	assert_int_equal(stat(c, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(sha256_file(b, hex, &err), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(spool_gzip(b, g, &err), 0);
	gz = gzopen(g, "rb");
	assert_int_equal(gzread(gz, back, sizeof(back) - 1), 3);
	gzclose(gz);
	assert_string_equal(back, "abc");
	assert_int_equal(spool_move(a, b, &err), -1); /* gone: said so */
	assert_non_null(strstr(buf_cstr(&err), "in.csv"));
	remove_tree(sub);
	assert_int_equal(access(sub, F_OK), -1);
	assert_true(disk_free(test_dir) > 0);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_never_picked_up),
		cmocka_unit_test_setup_teardown(test_move_link_gzip_and_hash, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
