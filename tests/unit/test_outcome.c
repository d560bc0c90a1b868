#include "config.h"

#include "outcome/outcome.h"
#include "testutil.h"

static void test_one_rule_whoever_rejected_the_rows(void **state)
{
	struct feed stop = {.validation = VALIDATION_STOP, .allowed_errors = 100};
	struct feed skip = {.validation = VALIDATION_SKIP, .allowed_errors = 2};

	(void)state;
	assert_int_equal(feed_allowance(&stop), 0);
	assert_int_equal(feed_allowance(&skip), 2);
	assert_int_equal(file_outcome(&stop, 0, 0, 0), OUTCOME_DONE);
	assert_int_equal(file_outcome(&stop, 1, 0, 0), OUTCOME_REJECTED);
	assert_int_equal(file_outcome(&skip, 2, 0, 0), OUTCOME_PARTIAL);
	assert_int_equal(file_outcome(&skip, 3, 0, 0), OUTCOME_REJECTED);
	/* Commerce refused a batch whole, or the allowance ran out while sending */
	assert_int_equal(file_outcome(&skip, 0, 1, 0), OUTCOME_REJECTED);
	assert_int_equal(file_outcome(&skip, 1, 0, 1), OUTCOME_REJECTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_rule_whoever_rejected_the_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
