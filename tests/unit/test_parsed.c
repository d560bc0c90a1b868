#include "config.h"

#include <jansson.h>

#include "lib/parsed.h"
#include "testutil.h"

static json_t *result(const char *text, struct buf *err)
{
	buf_reset(err);
	return parsed_result(text, strlen(text), err);
}

static void test_results_the_child_writes_are_taken(void **state)
{
	struct buf err = BUF_INIT(4096);
	json_t *r;

	(void)state;
	r = result("{\"id\":null,\"file\":\"a.csv\",\"feed\":\"stock\",\"state\":\"partial\",\"rows\":3,"
		   "\"rows_ok\":2,\"rows_rejected\":1,\"batches\":1,\"messages\":[\"x\"]}",
		   &err);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "state")), "partial");
	json_decref(r);
	r = result("{\"state\":\"rejected\",\"rows\":0,\"rows_rejected\":0,\"batches\":0}", &err);
	assert_non_null(r);
	json_decref(r);
	buf_release(&err);
}

static void test_results_the_child_would_not_write_are_refused(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "is not JSON" },
		{ "{\"state\":\"valid\",\"rows\":1", "is not JSON" },
		{ "[]", "is not a JSON object" },
		{ "{\"state\":\"done\",\"rows\":1,\"rows_rejected\":0,\"batches\":1}", "no known state" },
		{ "{\"state\":7,\"rows\":1,\"rows_rejected\":0,\"batches\":1}", "no known state" },
		{ "{\"state\":\"valid\",\"rows\":-1,\"rows_rejected\":0,\"batches\":1}", "lacks a count" },
		{ "{\"state\":\"valid\",\"rows\":\"1\",\"rows_rejected\":0,\"batches\":1}", "lacks a count" },
		{ "{\"state\":\"valid\",\"rows\":1,\"rows_rejected\":0}", "lacks a count" },
		{ "{\"state\":\"valid\",\"rows\":1,\"rows_rejected\":0,\"batches\":4294967296}",
		  "lacks a count" },
		{ "{\"state\":\"partial\",\"rows\":1,\"rows_rejected\":2,\"batches\":1}",
		  "rejects more rows than it read" },
		{ "{\"state\":\"valid\",\"rows\":1,\"rows_rejected\":0,\"batches\":1,\"messages\":\"x\"}",
		  "messages that are not a list" },
		{ "{\"state\":\"valid\",\"rows\":1,\"rows_rejected\":0,\"batches\":1,\"messages\":[1]}",
		  "a message that is not text" },
	};
	struct buf err = BUF_INIT(4096);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(result(bad[i].text, &err));
		if (strstr(buf_cstr(&err), bad[i].why) == NULL)
			fail_msg("'%s': '%s' does not say '%s'", bad[i].text, buf_cstr(&err), bad[i].why);
	}
	buf_release(&err);
}

static void test_result_files(void **state)
{
	static const char text[] = "{\"state\":\"valid\",\"rows\":1,\"rows_rejected\":0,\"batches\":1}";
	struct buf err = BUF_INIT(4096);
	char *path = TMPFILE(text), *link = NULL;
	json_t *r = parsed_result_load(path, &err);

	(void)state;
	assert_non_null(r);
	json_decref(r);
	/* a symbolic link (to the token, say) is not read */
	link = malloc(strlen(path) + 6);
	sprintf(link, "%s-link", path);
	assert_int_equal(symlink(path, link), 0);
	assert_null(parsed_result_load(link, &err));
	assert_non_null(strstr(buf_cstr(&err), "cannot read"));
	/* no file: no result and nothing to say (the file is parsed again) */
	buf_reset(&err);
	assert_null(parsed_result_load("/nonexistent/f.result.json", &err));
	assert_int_equal(err.len, 0);
	unlink(link);
	unlink(path);
	free(link);
	free(path);
	buf_release(&err);
}

static void test_members(void **state)
{
	static const char members[] = "a.csv\0\0b/c\nd.csv\0last";
	struct strlist l = STRLIST_INIT;

	(void)state;
	parsed_members(members, sizeof(members) - 1, &l);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0], "a.csv");
	assert_string_equal(l.v[1], "");
	assert_string_equal(l.v[2], "b/c\nd.csv"); /* a newline is part of a name */
	assert_string_equal(l.v[3], "last");
	strlist_clear(&l);
	parsed_members_load("/nonexistent/.f.members", &l);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results_the_child_writes_are_taken),
		cmocka_unit_test(test_results_the_child_would_not_write_are_refused),
		cmocka_unit_test(test_result_files),
		cmocka_unit_test(test_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
