#include "config.h"

#include "daemon/timers.h"
#include "testutil.h"

static int runs[3];
static long long periods[3] = {1000, 300, 5000};

static long long period(void *ctx)
{
	return periods[(int *)ctx - runs];
}

static void tick(void *ctx)
{
	(*(int *)ctx)++;
}

static void test_due_timers_run_in_order_and_come_back(void **state)
{
	struct timers t = {.n = 0};

	(void)state;
	memset(runs, 0, sizeof(runs));
	timers_add(&t, "a", 0, period, tick, &runs[0]);
	timers_add(&t, "b", 100, period, tick, &runs[1]);
	timers_add(&t, "c", 2000, period, tick, &runs[2]);
	assert_string_equal(t.v[0].name, "a");
	assert_int_equal(timers_wait_ms(&t, 0, 500), 0);
	timers_run(&t, 0); /* a runs, back at 1000 */
	assert_int_equal(runs[0], 1);
	assert_int_equal(runs[1], 0);
	assert_int_equal(timers_wait_ms(&t, 0, 500), 100);
	assert_int_equal(timers_wait_ms(&t, 60, 20), 20); /* capped */
	timers_run(&t, 100);				  /* b, back at 400 */
	assert_int_equal(runs[1], 1);
	timers_run(&t, 1000); /* a and b are due: each runs once */
	assert_int_equal(runs[0], 2);
	assert_int_equal(runs[1], 2);
	assert_int_equal(runs[2], 0);
	for (size_t i = 0; i + 1 < t.n; i++)
		assert_true(t.v[i].due_ms <= t.v[i + 1].due_ms);
	assert_int_equal(timers_wait_ms(&t, 5000, 500), 0); /* overdue */
}

static void test_a_timer_asked_for_now_runs_next(void **state)
{
	struct timers t = {.n = 0};

	(void)state;
	memset(runs, 0, sizeof(runs));
	timers_add(&t, "a", 1000, period, tick, &runs[0]);
	timers_add(&t, "c", 5000, period, tick, &runs[2]);
	timers_due_now(&t, "c", 10);
	assert_string_equal(t.v[0].name, "c");
	timers_run(&t, 10);
	assert_int_equal(runs[2], 1);
	assert_int_equal(runs[0], 0);
	assert_string_equal(t.v[0].name, "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_due_timers_run_in_order_and_come_back),
	    cmocka_unit_test(test_a_timer_asked_for_now_runs_next),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
