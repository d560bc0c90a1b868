/* Operating it: its configuration keys, late feeds, the exposition format, progress files. */
#include "config.h"

#include <time.h>

#include "lib/conf.h"
#include "lib/loadconf.h"
#include "ops/counters.h"
#include "ops/expect.h"
#include "ops/progress.h"
#include "ops/prom.h"
#include "testconf.h"
#include "testutil.h"
#include "util/log.h"

#define COMMERCE "[commerce]\nurl = https://shop.example.com\ntoken_file = /etc/dropgate/token\n"
#define FEED "[feed stock]\ndir = inbound/stock\nentity = stock_sources\n"

static void test_keys_parse(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c;

	(void)state;
	c = load("[dropgate]\nlog = warn syslog\nmetrics = 127.0.0.1:9464\nalert = notify\n"
		 "alert_deferred = 2h\n" COMMERCE FEED
		 "expect = daily 03:30\nexpect.partners = acme b*\n",
		 &err);
	assert_non_null(c);
	assert_int_equal(c->log_level, LOG_WARN);
	assert_int_equal(c->log_syslog, 1);
	assert_string_equal(c->metrics, "127.0.0.1:9464");
	assert_string_equal(c->alert, "/tmp/notify"); /* relative to the file's directory */
	assert_int_equal(c->alert_deferred, 7200);
	assert_int_equal(c->feeds[0].expect, EXPECT_DAILY);
	assert_int_equal(c->feeds[0].expect_at, 3 * 60 + 30);
	assert_int_equal(c->feeds[0].expect_partners.n, 2);
	conf_free(c);

	c = load("[dropgate]\nlog = syslog\n" COMMERCE FEED "expect = every 30m\n", &err);
	assert_non_null(c);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->log_syslog, 1);
	assert_null(c->metrics);
	assert_null(c->alert);
	assert_int_equal(c->alert_deferred, 3600);
	assert_int_equal(c->feeds[0].expect, EXPECT_EVERY);
	assert_int_equal(c->feeds[0].expect_every, 1800);
	conf_free(c);

	c = load("[dropgate]\n" COMMERCE FEED, &err);
	assert_non_null(c);
	assert_int_equal(c->log_syslog, 0);
	assert_int_equal(c->feeds[0].expect, EXPECT_NONE);
	conf_free(c);
	buf_release(&err);
}

static const struct {
	const char *ini, *message;
} bad[] = {
    {"[dropgate]\nlog = loud\n" COMMERCE, "log: 'loud' is not a level"},
    {"[dropgate]\nlog = info syslog stderr\n" COMMERCE, "log: 'info syslog stderr' is not"},
    {"[dropgate]\nmetrics = 9464\n" COMMERCE, "metrics: '9464' is not ADDRESS:PORT"},
    {"[dropgate]\nmetrics = localhost:99999\n" COMMERCE, "is not ADDRESS:PORT"},
    {"[dropgate]\n" COMMERCE FEED "expect = weekly\n", "expect: 'weekly' is not 'daily HH:MM'"},
    {"[dropgate]\n" COMMERCE FEED "expect = daily 25:00\n", "is not a local time like 02:00"},
    {"[dropgate]\n" COMMERCE FEED "expect = every\n", "is not 'daily HH:MM' or 'every DURATION'"},
};

static void test_bad_keys_are_named(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf *c = load(bad[i].ini, &err);
		if (c != NULL || strstr(buf_cstr(&err), bad[i].message) == NULL)
			fail_msg("case %zu: wanted '%s', got '%s'", i, bad[i].message,
				 buf_cstr(&err));
	}
	buf_release(&err);
}

static void test_late_every(void **state)
{
	struct feed f = {.expect = EXPECT_EVERY, .expect_every = 1800};
	time_t since;

	(void)state;
	/* the last file 29 minutes ago: on time; 30: late since it plus 30 minutes */
	assert_int_equal(expect_late(&f, 10000, 0, 10000 + 1799, &since), 0);
	assert_int_equal(expect_late(&f, 10000, 0, 10000 + 1800, &since), 1);
	assert_int_equal(since, 10000 + 1800);
	/* no file ever: the daemon's start stands for one */
	assert_int_equal(expect_late(&f, 0, 50000, 50000 + 1000, &since), 0);
	assert_int_equal(expect_late(&f, 0, 50000, 50000 + 2000, &since), 1);
	assert_int_equal(since, 50000 + 1800);
	f.expect = EXPECT_NONE;
	assert_int_equal(expect_late(&f, 0, 0, 99999999, &since), 0);
}

static time_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_isdst = -1};
	return mktime(&tm); /* TZ=UTC in main */
}

static void test_late_daily(void **state)
{
	struct feed f = {.expect = EXPECT_DAILY, .expect_at = 3 * 60};
	time_t since;

	(void)state;
	/* yesterday's file at 02:30 was on time for yesterday 03:00; by today 03:00 none came */
	assert_int_equal(
	    expect_late(&f, utc(2026, 12, 5, 2, 30), 0, utc(2026, 12, 6, 2, 59), &since), 0);
	assert_int_equal(
	    expect_late(&f, utc(2026, 12, 5, 2, 30), 0, utc(2026, 12, 6, 3, 0), &since), 1);
	assert_int_equal(since, utc(2026, 12, 6, 3, 0));
	/* a file after yesterday's 03:00 counts for today's */
	assert_int_equal(
	    expect_late(&f, utc(2026, 12, 5, 3, 10), 0, utc(2026, 12, 6, 9, 0), &since), 0);
	/* and it recovers the lateness of today the moment it comes */
	assert_int_equal(expect_late(&f, utc(2026, 12, 6, 9, 5), 0, utc(2026, 12, 6, 9, 6), &since),
			 0);
	/* still late the next morning before 03:00: since yesterday's 03:00 */
	assert_int_equal(expect_late(&f, utc(2026, 12, 4, 1, 0), 0, utc(2026, 12, 6, 1, 0), &since),
			 1);
	assert_int_equal(since, utc(2026, 12, 5, 3, 0));
}

static void test_prom_format(void **state)
{
	struct buf out = BUF_INIT(BUF_NOCAP);

	(void)state;
	prom_family(&out, "x_total", "counter", "help text");
	prom_sample(&out, "x_total", 3, 2, "a", "q\"uo\\te", "b", "new\nline");
	prom_sample(&out, "x_total", 0.25, 0);
	assert_string_equal(buf_cstr(&out), "# HELP x_total help text\n# TYPE x_total counter\n"
					    "x_total{a=\"q\\\"uo\\\\te\",b=\"new\\nline\"} 3\n"
					    "x_total 0.25\n");
	buf_release(&out);
}

static void test_counters_render(void **state)
{
	struct buf out = BUF_INIT(BUF_NOCAP);
	const char *s;

	(void)state;
	counters_request("default", "done", 0.3);
	counters_request("default", "done", 7);
	counters_request("default", "transient", 200);
	counters_retry("default");
	counters_export("orders", 1, 12, 1700000000);
	counters_render(&out);
	s = buf_cstr(&out);
	assert_non_null(
	    strstr(s, "dropgate_commerce_requests_total{target=\"default\",outcome=\"done\"} 2\n"));
	assert_non_null(strstr(
	    s, "dropgate_commerce_requests_total{target=\"default\",outcome=\"transient\"} 1\n"));
	/* buckets are cumulative; +Inf holds every request */
	assert_non_null(strstr(s, "_bucket{target=\"default\",le=\"0.25\"} 0\n"));
	assert_non_null(strstr(s, "_bucket{target=\"default\",le=\"0.5\"} 1\n"));
	assert_non_null(strstr(s, "_bucket{target=\"default\",le=\"10\"} 2\n"));
	assert_non_null(strstr(s, "_bucket{target=\"default\",le=\"120\"} 2\n"));
	assert_non_null(strstr(s, "_bucket{target=\"default\",le=\"+Inf\"} 3\n"));
	assert_non_null(
	    strstr(s, "dropgate_commerce_request_duration_seconds_count{target=\"default\"} 3\n"));
	assert_non_null(strstr(s, "dropgate_commerce_retries_total{target=\"default\"} 1\n"));
	assert_non_null(strstr(s, "dropgate_export_rows_total{export=\"orders\"} 12\n"));
	assert_true(strstr(s, "# TYPE dropgate_export_rows_total") <
		    strstr(s, "dropgate_export_rows_total{"));
	buf_release(&out);
}

static void test_progress_file_round_trip(void **state)
{
	struct progress p;
	struct progress_read r;
	char bar[32];

	(void)state;
	progress_open(&p, test_dir, 0, "f.csv", 1000);
	progress_bytes(&p, 400);
	progress_rows(&p, 123);
	progress_close(&p);
	assert_int_equal(progress_load(test_dir, &r), 0);
	assert_int_equal(r.done, 400);
	assert_int_equal(r.total, 1000);
	assert_int_equal(r.rows, 123);
	assert_true(r.updated_ms >= r.started_ms && r.started_ms > 0);
	progress_bar(bar, sizeof(bar), 0.5, 10);
	assert_string_equal(bar, "[#####.....]");
	progress_bar(bar, sizeof(bar), 7, 4);
	assert_string_equal(bar, "[####]");
	assert_int_equal(progress_load("/nonexistent", &r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_parse),
	    cmocka_unit_test(test_bad_keys_are_named),
	    cmocka_unit_test(test_late_every),
	    cmocka_unit_test(test_late_daily),
	    cmocka_unit_test(test_prom_format),
	    cmocka_unit_test(test_counters_render),
	    cmocka_unit_test_setup_teardown(test_progress_file_round_trip, tmpdir_setup,
					    tmpdir_teardown),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
