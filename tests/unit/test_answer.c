#include "config.h"

#include <jansson.h>

#include "commerce/answer.h"
#include "testutil.h"

static void parse(struct answer *a, long status, const char *body)
{
	answer_parse(a, status, body, strlen(body));
}

static void test_success_and_row_answers(void **state)
{
	struct answer a;

	(void)state;
	answer_init(&a);
	parse(&a, 200, "[\"Entities Processed: 2\"]");
	assert_int_equal(a.cls, ANSWER_DONE);
	assert_true(a.has_processed);
	assert_int_equal(a.processed, 2);
	assert_int_equal(a.nrows, 0);
	parse(&a, 200, "[\"Row 3: Please enter a password with a valid length.\", \"Row 12: SKU is empty\", "
		       "\"Entities Processed: 10\"]");
	assert_int_equal(a.cls, ANSWER_DONE);
	assert_int_equal(a.nrows, 2);
	assert_int_equal(a.rows[0].row, 3);
	assert_string_equal(a.rows[0].message, "Please enter a password with a valid length.");
	assert_int_equal(a.rows[1].row, 12);
	answer_release(&a);
}

static void test_whole_batch_answers_are_refusals(void **state)
{
	static const struct {
		const char *body;
		enum answer_class cls;
	} cases[] = {
		/* current releases (StartImport::validate): the bad rows, named */
		{ "[\"Row 3: Source code \\\"xx\\\" does not exists\", \"Row 9: x\"]", ANSWER_ROWS },
		/* earlier releases (processValidationResult): some row is bad, none named */
		{ "[\"Data validation failed. Please fix the following errors and upload the file again.\", "
		  "\"Please fix errors and re-upload file\"]", ANSWER_UNNAMED },
		{ "[\"Maximum error count has been reached or system error is occurred!\"]", ANSWER_UNNAMED },
		/* not about rows */
		{ "[\"This file is empty. Please try another one.\"]", ANSWER_REFUSED },
		{ "[\"Sorry, but the data is invalid or the file is not uploaded.\"]", ANSWER_REFUSED },
		{ "[\"The file is valid, but we can't import it for some reason.\"]", ANSWER_REFUSED },
		{ "[]", ANSWER_REFUSED },
		{ "{\"not\": \"a list\"}", ANSWER_REFUSED },
	};
	struct answer a;

	(void)state;
	answer_init(&a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(&a, 200, cases[i].body);
		assert_int_equal(a.cls, cases[i].cls);
		assert_true(a.message.len > 0 || a.nrows > 0);
	}
	parse(&a, 200, cases[0].body);
	assert_int_equal(a.nrows, 2);
	assert_int_equal(a.rows[1].row, 9);
	assert_string_equal(a.rows[0].message, "Source code \"xx\" does not exists");
	parse(&a, 200, cases[1].body);
	assert_int_equal(a.nrows, 0);
	assert_string_equal(buf_cstr(&a.message),
			    "Data validation failed. Please fix the following errors and upload the file again. "
			    "Please fix errors and re-upload file");
	answer_release(&a);
}

static void test_request_refusals_are_not_rows(void **state)
{
	static const struct {
		const char *body, *message;
	} cases[] = {
		/* getEntity(), initValidationStrategy() throw; StartImport answers 200 */
		{ "[\"Entity is unknown\"]", "Entity is unknown" },
		{ "[\"ImportExport: Import Data validation - Validation strategy not found\"]",
		  "ImportExport: Import Data validation - Validation strategy not found" },
		/* Entity/AbstractEntity::validateData: header errors carry no row, named row 1 */
		{ "[\"Row 1: Header contains invalid attribute(s): \\\"colour\\\"\"]",
		  "Header contains invalid attribute(s): \"colour\"" },
		{ "[\"Row 1: We can't find required columns: sku.\", "
		  "\"Row 1: Column names: \\\"SKU\\\" are invalid\"]",
		  "We can't find required columns: sku. Column names: \"SKU\" are invalid" },
		{ "[\"Row 1: Columns number: \\\"4\\\" have empty headers\"]",
		  "Columns number: \"4\" have empty headers" },
	};
	struct answer a;

	(void)state;
	answer_init(&a);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse(&a, 200, cases[i].body);
		assert_int_equal(a.cls, ANSWER_REFUSED);
		assert_false(a.has_processed);
		assert_int_equal(a.nrows, 0);
		assert_string_equal(buf_cstr(&a.message), cases[i].message);
	}
	/* a row's problem that only reads like a header's is still that row's */
	parse(&a, 200, "[\"Row 2: Column names: \\\"x\\\" are invalid\"]");
	assert_int_equal(a.cls, ANSWER_ROWS);
	assert_int_equal(a.rows[0].row, 2);
	parse(&a, 200, "[\"Row 1: Source code \\\"xx\\\" does not exists\"]");
	assert_int_equal(a.cls, ANSWER_ROWS);
	assert_int_equal(a.rows[0].row, 1);
	answer_release(&a);
}

static void test_statuses_and_filled_messages(void **state)
{
	struct answer a;

	(void)state;
	answer_init(&a);
	parse(&a, 401, "{\"message\":\"The consumer isn't authorized to access %resources.\","
		       "\"parameters\":{\"resources\":\"Magento_ImportExport::import_api\"}}");
	assert_int_equal(a.cls, ANSWER_AUTH);
	assert_string_equal(buf_cstr(&a.message), "HTTP 401: The consumer isn't authorized to access "
						  "Magento_ImportExport::import_api.");
	parse(&a, 400, "{\"message\":\"Entity is unknown: %1\",\"parameters\":[\"widgets\"]}");
	assert_int_equal(a.cls, ANSWER_REFUSED);
	assert_string_equal(buf_cstr(&a.message), "HTTP 400: Entity is unknown: widgets");
	parse(&a, 503, "<html>busy</html>");
	assert_int_equal(a.cls, ANSWER_TRANSIENT);
	parse(&a, 429, "");
	assert_int_equal(a.cls, ANSWER_TRANSIENT);
	parse(&a, 404, "");
	assert_int_equal(a.cls, ANSWER_REFUSED);
	assert_string_equal(buf_cstr(&a.message), "Commerce answered HTTP 404");
	answer_release(&a);
}

static void test_placeholders(void **state)
{
	struct buf out = BUF_INIT(BUF_NOCAP);
	json_t *obj = json_pack("{s:s, s:i}", "fieldName", "source", "n", 3);
	json_t *arr = json_pack("[s, s]", "a", "b");

	(void)state;
	fill_placeholders("\"%fieldName\" is required; %n rows; 100% sure; %missing", obj, &out);
	assert_string_equal(buf_cstr(&out), "\"source\" is required; 3 rows; 100% sure; %missing");
	buf_reset(&out);
	fill_placeholders("%2 then %1, %3", arr, &out);
	assert_string_equal(buf_cstr(&out), "b then a, %3");
	json_decref(obj);
	json_decref(arr);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_and_row_answers),
		cmocka_unit_test(test_whole_batch_answers_are_refusals),
		cmocka_unit_test(test_request_refusals_are_not_rows),
		cmocka_unit_test(test_statuses_and_filled_messages),
		cmocka_unit_test(test_placeholders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
