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
	struct report_summary s = { -1, "stock", "partial", 3, 1, 2, 1 };
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
	struct report_summary s = { 42, "stock", "done", 200, 200, 0, 1 };
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
	assert_non_null(strstr(buf_cstr(&err), "cannot write /nonexistent/dir/.x.csv.errors.csv.tmp"));
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_csv_for_a_spreadsheet, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_result_json_and_no_errors_file_without_problems,
						tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_unwritable_directory_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
