#include "config.h"

#include <getopt.h>
#include <string.h>

#include "cmd/commands.h"
#include "testutil.h"

/* what the command's function saw */
static struct {
	int called;
	int argc;
	char operand[64];
	char flag[16], arg[16]; /* "-" when not given */
} seen;

static int record(struct command_ctx *cx)
{
	seen.called++;
	seen.argc = cx->argc;
	snprintf(seen.operand, sizeof(seen.operand), "%s", cx->argc ? cx->argv[0] : "");
	snprintf(seen.flag, sizeof(seen.flag), "%s",
		 command_opt(cx, "all") ? command_opt(cx, "all") : "-");
	snprintf(seen.arg, sizeof(seen.arg), "%s",
		 command_opt(cx, "name") ? command_opt(cx, "name") : "-");
	return 7;
}

static const struct command_option options[] = {
    {"all", 'a', no_argument},
    {"name", 0, required_argument},
    {NULL, 0, 0},
};
static const struct command_args plain = {"usage: t\n", NULL, options, NULL};
static const struct command_args none = {"usage: t\n", NULL, NULL, command_no_operands};
static const struct command_args verb = {"usage: t add\n", "add", options, NULL};

static int run(const struct command *cmd, const char *line)
{
	char buf[256], *argv[16];
	int argc = 0;

	memset(&seen, 0, sizeof(seen));
	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t && argc < 15; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	return command_run(cmd, argc, argv);
}

static void test_options_and_operands_reach_the_function(void **state)
{
	const struct command c = {"t", record, 0, &plain, ""};

	(void)state;
	assert_int_equal(run(&c, "t x -a --name=N"), 7);
	assert_int_equal(seen.called, 1);
	assert_int_equal(seen.argc, 1);
	assert_string_equal(seen.operand, "x");
	assert_string_equal(seen.flag, "");
	assert_string_equal(seen.arg, "N");
	assert_int_equal(run(&c, "t --all"), 7);
	assert_string_equal(seen.arg, "-");
	assert_int_equal(seen.argc, 0);
}

static void test_usage_errors_and_help_never_call_it(void **state)
{
	const struct command c = {"t", record, 0, &plain, ""};
	const struct command n = {"t", record, 0, &none, ""};

	(void)state;
	assert_int_equal(run(&c, "t --bogus"), EXIT_USAGE);
	assert_int_equal(run(&c, "t --name"), EXIT_USAGE); /* its argument is missing */
	assert_int_equal(run(&c, "t --help --bogus"), 0);
	assert_int_equal(run(&c, "t -h"), 0);
	assert_int_equal(seen.called, 0);
	assert_int_equal(run(&n, "t extra"), EXIT_USAGE);
	assert_int_equal(seen.called, 0);
	assert_int_equal(run(&n, "t"), 7);
}

static void test_a_verb_comes_first(void **state)
{
	const struct command c = {"t", record, 0, &verb, ""};

	(void)state;
	assert_int_equal(run(&c, "t add NAME -a"), 7);
	assert_string_equal(seen.operand, "NAME");
	assert_int_equal(run(&c, "t"), EXIT_USAGE);
	assert_int_equal(run(&c, "t -a add NAME"), EXIT_USAGE);
	assert_int_equal(run(&c, "t --help"), 0);
	assert_int_equal(seen.called, 0);
}

static void test_feed_commands_want_feed_and_files_before_any_configuration(void **state)
{
	const struct command c = {"t", record, NEEDS_CONF | NEEDS_FEED | ONE_FILE, &plain, ""};
	const struct command conf = {"t", record, NEEDS_CONF, &plain, ""};

	(void)state;
	/* no configuration file exists at this path: a usage error is found first */
	assert_int_equal(run(&c, "t -c /nonexistent/dropgate.conf FILE"), EXIT_USAGE);
	assert_int_equal(run(&c, "t -c /nonexistent/dropgate.conf --feed F A B"), EXIT_USAGE);
	assert_int_equal(run(&conf, "t -c /nonexistent/dropgate.conf"), EXIT_USAGE);
	assert_int_equal(seen.called, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_options_and_operands_reach_the_function),
	    cmocka_unit_test(test_usage_errors_and_help_never_call_it),
	    cmocka_unit_test(test_a_verb_comes_first),
	    cmocka_unit_test(test_feed_commands_want_feed_and_files_before_any_configuration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
