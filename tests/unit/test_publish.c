#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "util/durable.h"
#include "util/publish.h"
#include "testutil.h"

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *text = calloc(1, 4096);

	assert_non_null(fp);
	assert_true(fread(text, 1, 4095, fp) < 4095);
	fclose(fp);
	return text;
}

/* entries: how many names the directory holds (temporaries included) */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

static void test_a_file_appears_whole_and_replaces_the_old(void **state)
{
	struct buf err = BUF_INIT(1024);
	struct publish p;
	char path[128];
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/out.csv", test_dir);
	assert_int_equal(publish_bytes(path, "old\n", 4, 0644, 0, &err), 0);
	assert_int_equal(publish_open(&p, path, 0640, 0, &err), 0);
	assert_int_equal(publish_write(&p, "new ", 4, &err), 0);
	fputs("bytes\n", publish_stream(&p));
	text = slurp(path); /* until the commit, the old bytes */
	assert_string_equal(text, "old\n");
	free(text);
	assert_int_equal(entries(test_dir), 2); /* out.csv and its temporary */
	assert_int_equal(publish_commit(&p, &err), 0);
	text = slurp(path);
	assert_string_equal(text, "new bytes\n");
	free(text);
	assert_int_equal(entries(test_dir), 1);
	assert_false(durable_failed());
	buf_release(&err);
}

static void test_an_abort_leaves_nothing_and_the_old_file(void **state)
{
	struct buf err = BUF_INIT(1024);
	struct publish p;
	char path[128];
	char *text;

	(void)state;
	snprintf(path, sizeof(path), "%s/keep.json", test_dir);
	assert_int_equal(publish_bytes(path, "{}\n", 3, 0644, PUBLISH_NOSYNC, &err), 0);
	assert_int_equal(publish_open(&p, path, 0644, 0, &err), 0);
	assert_int_equal(publish_write(&p, "half", 4, &err), 0);
	publish_abort(&p);
	publish_abort(&p); /* twice is harmless */
	text = slurp(path);
	assert_string_equal(text, "{}\n");
	free(text);
	assert_int_equal(entries(test_dir), 1);
	buf_release(&err);
}

static void test_failures_say_which_file_and_touch_nothing(void **state)
{
	struct buf err = BUF_INIT(1024);
	struct publish p;
	char path[160], link[160];

	(void)state;
	/* no directory: nothing to create in */
	assert_int_equal(publish_bytes("/nonexistent/dir/x", "x", 1, 0644, 0, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "/nonexistent/dir/x"));
	buf_reset(&err);
	/* the final name is a directory: the rename fails, the temporary goes */
	snprintf(path, sizeof(path), "%s/adir", test_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(publish_open(&p, path, 0644, 0, &err), 0);
	assert_int_equal(publish_commit(&p, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "cannot rename"));
	assert_int_equal(entries(test_dir), 1);
	buf_reset(&err);
	/* a link planted at the final name is replaced, never written through */
	snprintf(link, sizeof(link), "%s/victim", test_dir);
	assert_int_equal(publish_bytes(link, "safe", 4, 0644, 0, &err), 0);
	snprintf(path, sizeof(path), "%s/planted", test_dir);
	assert_int_equal(symlink(link, path), 0);
	assert_int_equal(publish_bytes(path, "report", 6, 0644, 0, &err), 0);
	{
		char *text = slurp(link);
		struct stat st;
		assert_string_equal(text, "safe");
		free(text);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISREG(st.st_mode));
	}
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_file_appears_whole_and_replaces_the_old,
					    tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_an_abort_leaves_nothing_and_the_old_file,
					    tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_failures_say_which_file_and_touch_nothing,
					    tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
