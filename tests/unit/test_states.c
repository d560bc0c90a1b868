#include "config.h"

#include "queue/states.h"
#include "testutil.h"

static void test_each_state_is_in_flight_or_final(void **state)
{
	static const char *const in_flight[] = {ST_RECEIVED, ST_PROCESSING, ST_SUBMITTING,
						ST_DEFERRED};
	static const char *const final[] = {ST_DONE,	  ST_PARTIAL, ST_FAILED,
					    ST_DUPLICATE, ST_STALE,   ST_REFUSED};

	(void)state;
	for (size_t i = 0; i < sizeof(in_flight) / sizeof(*in_flight); i++) {
		assert_true(state_is(in_flight[i], STATE_IN_FLIGHT));
		assert_false(state_is(in_flight[i], STATE_FINAL));
	}
	for (size_t i = 0; i < sizeof(final) / sizeof(*final); i++) {
		assert_true(state_is(final[i], STATE_FINAL));
		assert_false(state_is(final[i], STATE_IN_FLIGHT));
	}
	assert_true(state_is(ST_DONE, STATE_FINAL | STATE_IMPORTED));
	assert_true(state_is(ST_PARTIAL, STATE_IMPORTED));
	assert_false(state_is(ST_FAILED, STATE_IMPORTED));
	assert_null(state_info("sent"));
	assert_false(state_is("sent", STATE_FINAL));
}

static void test_sql_lists_come_from_the_table(void **state)
{
	(void)state;
	assert_string_equal(state_sql_list(STATE_IN_FLIGHT),
			    "'received','processing','submitting','deferred'");
	assert_string_equal(state_sql_list(STATE_IMPORTED), "'done','partial'");
	/* asked again: the same text */
	assert_string_equal(state_sql_list(STATE_IN_FLIGHT),
			    "'received','processing','submitting','deferred'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_state_is_in_flight_or_final),
	    cmocka_unit_test(test_sql_lists_come_from_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
