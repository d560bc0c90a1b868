#include "config.h"

#include <fcntl.h>

#include "testutil.h"
#include "util/log.h"
#include "util/xalloc.h"

/* capture: what the log wrote while fn ran. */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/dropgate-log.XXXXXX";
	int fd = mkstemp(path);
	char text[4096];
	ssize_t n;

	assert_true(fd >= 0);
	log_set_fd(fd);
	fn();
	log_set_fd(2);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	unlink(path);
	assert_true(n >= 0);
	text[n] = '\0';
	return xstrdup(text);
}

static void write_event(void)
{
	struct logline l;

	log_set_level(LOG_INFO);
	log_begin(&l, LOG_WARN, "row_rejected");
	log_kv(&l, "file", "stock.csv");
	log_kvf(&l, "line", "%d", 7);
	log_kv(&l, "value", "say \"hi\"\n=1+2");
	log_kv(&l, "empty", "");
	log_end(&l);
	log_simple(LOG_DEBUG, "hidden", "debug is below info");
}

static void test_key_value_lines_quote_what_needs_it(void **state)
{
	char *text = capture(write_event);

	(void)state;
	assert_non_null(strstr(text, "ts=20"));
	assert_int_equal(text[26], 'Z'); /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
	assert_non_null(strstr(text, "Z level=warn event=row_rejected file=stock.csv line=7 "
				     "value=\"say \\\"hi\\\"\\n=1+2\" empty=\"\"\n"));
	assert_null(strstr(text, "hidden"));
	assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text)); /* one line */
	free(text);
}

static void test_levels_parse(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
	assert_int_equal(log_level_parse("error"), LOG_ERROR);
	assert_int_equal(log_level_parse("loud"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_value_lines_quote_what_needs_it),
		cmocka_unit_test(test_levels_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
