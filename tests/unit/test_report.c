#include "config.h"

#include <jansson.h>

#include "lib/report.h"
#include "testutil.h"

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct buf b = BUF_INIT(BUF_NOCAP);
	char block[4096];
	size_t n;

	if (fp == NULL)
		return NULL;
	while ((n = fread(block, 1, sizeof(block), fp)) > 0)
		buf_add(&b, block, n);
	fclose(fp);
	return buf_detach(&b);
}

static void test_errors_csv_for_a_spreadsheet(void **state)
{
	struct report r;
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct report_summary s = { -1, "stock", "partial", 3, 1, 2, 1, NULL };
	char path[256];
	char *text;

	(void)state;
	assert_int_equal(report_open(&r, test_dir, "stock.csv", &err), 0);
	report_problem(&r, "8", "quantity", "=1+2", 4, "quantity '=1+2' is not a number");
	report_problem(&r, "4", "quantity", "1,5", 3, "not a number, \"really\"");
	report_problem(&r, "5", "sku", "@SUM(A1)", 8, "-x");
	assert_int_equal(report_finish(&r, &s, &err), 0);
	report_release(&r);
	snprintf(path, sizeof(path), "%s/stock.csv.errors.csv", test_dir);
	text = slurp(path);
	assert_non_null(text);
	assert_string_equal(text, "\xef\xbb\xbfline,column,value,message\r\n"
				  "8,quantity,'=1+2,quantity '=1+2' is not a number\r\n"
				  "4,quantity,\"1,5\",\"not a number, \"\"really\"\"\"\r\n"
				  "5,sku,'@SUM(A1),'-x\r\n");
	free(text);
	buf_release(&err);
}

static void test_result_json_and_no_errors_file_without_problems(void **state)
{
	struct report r;
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct report_summary s = { 42, "stock", "done", 200, 200, 0, 1, NULL };
	char path[256];
	json_t *j;
	json_error_t je;

	(void)state;
	/* an errors.csv from an earlier run of the same name goes away */
	snprintf(path, sizeof(path), "%s/stock.csv.errors.csv", test_dir);
	fclose(fopen(path, "w"));
	assert_int_equal(report_open(&r, test_dir, "stock.csv", &err), 0);
	report_message(&r, "all good");
	assert_int_equal(report_finish(&r, &s, &err), 0);
	report_release(&r);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/stock.csv.result.json", test_dir);
	j = json_load_file(path, 0, &je);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
	assert_string_equal(json_string_value(json_object_get(j, "file")), "stock.csv");
	assert_string_equal(json_string_value(json_object_get(j, "feed")), "stock");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "done");
	assert_int_equal(json_integer_value(json_object_get(j, "rows")), 200);
	assert_int_equal(json_integer_value(json_object_get(j, "rows_ok")), 200);
	assert_int_equal(json_integer_value(json_object_get(j, "rows_rejected")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "batches")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "messages"), 0)),
			    "all good");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "received"))), 20);
	assert_int_equal(json_string_value(json_object_get(j, "finished"))[19], 'Z');
	json_decref(j);
	buf_release(&err);
}

static void test_unwritable_directory_is_an_error(void **state)
{
	struct report r;
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	assert_int_equal(report_open(&r, "/nonexistent/dir", "x.csv", &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "cannot write a report in /nonexistent/dir"));
	buf_release(&err);
}

/* a partner who can write the reports directory plants links at the temporary names */
static void test_planted_links_are_neither_followed_nor_blocking(void **state)
{
	struct report r;
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct report_summary s = { 7, "stock", "done", 1, 1, 0, 1, NULL };
	char victim[256], link1[256], link2[256], path[256];
	char *text;

	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", test_dir);
	fclose(fopen(victim, "w"));
	snprintf(link1, sizeof(link1), "%s/.a.csv.errors.csv.tmp", test_dir);
	snprintf(link2, sizeof(link2), "%s/.a.csv.result.json.tmp", test_dir);
	assert_int_equal(symlink("/nonexistent/x", link1), 0);
	assert_int_equal(symlink(victim, link2), 0);
	assert_int_equal(report_open(&r, test_dir, "a.csv", &err), 0);
	assert_int_equal(report_finish(&r, &s, &err), 0);
	report_release(&r);
	text = slurp(victim);
	assert_string_equal(text, "");
	free(text);
	snprintf(path, sizeof(path), "%s/a.csv.result.json", test_dir);
	assert_int_equal(access(path, F_OK), 0);
	buf_release(&err);
}

/* report_result_path: the name the result goes by, for names of every length */
static void test_long_names_and_their_reports_fit(void **state)
{
	struct report r;
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct report_summary s = { 8, "stock", "partial", 2, 1, 1, 1, NULL };
	char name[256], other[256];
	char *path, *path2, *slash;
	json_t *j;

	(void)state;
	memset(name, 'x', 250);
	strcpy(name + 250, ".csv");
	memcpy(other, name, sizeof(name));
	other[245] = 'y'; /* past any cut: only the hash tells them apart */
	assert_int_equal(report_open(&r, test_dir, name, &err), 0);
	report_problem(&r, "2", "sku", "", 0, "sku is empty");
	assert_int_equal(report_finish(&r, &s, &err), 0);
	report_release(&r);
	path = report_result_path(test_dir, name);
	slash = strrchr(path, '/');
	assert_true(strlen(slash + 1) <= 255);
	assert_non_null(strstr(slash + 1, ".result.json"));
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "file")), name);
	json_decref(j);
	/* two long names differing past the cut do not share a report */
	path2 = report_result_path(test_dir, other);
	assert_string_not_equal(path, path2);
	free(path);
	free(path2);
	/* short names keep the contract's F.result.json */
	path = report_result_path(test_dir, "stock.csv");
	assert_non_null(strstr(path, "/stock.csv.result.json"));
	free(path);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_csv_for_a_spreadsheet, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_result_json_and_no_errors_file_without_problems,
						tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_unwritable_directory_is_an_error),
		cmocka_unit_test_setup_teardown(test_planted_links_are_neither_followed_nor_blocking,
						tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_long_names_and_their_reports_fit, tmpdir_setup,
						tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
