#include "config.h"

#include <string.h>

#include "queue/notes.h"
#include "testutil.h"

/* The keys are on disk in every ledger: a new spelling would lose watermarks and pauses. */
static void test_each_key_keeps_its_spelling(void **state)
{
	struct note_key k;

	(void)state;
	assert_string_equal(note_paused(), "paused");
	assert_string_equal(note_daemon_pid(), "daemon.pid");
	assert_string_equal(note_full(&k, "acme", "stock"), "full:acme/stock");
	assert_string_equal(note_export_watermark(&k, "orders"), "export:orders");
	assert_string_equal(note_export_last_run(&k, "orders"), "export:orders:last_run");
	assert_string_equal(note_export_outcome(&k, "orders"), "export:orders:outcome");
	assert_string_equal(note_export_last_day(&k, "bi"), "export:bi:last_day");
	assert_ptr_equal(note_export_last_day(&k, "bi"), k.text);
}

static void test_a_long_name_is_cut_not_overrun(void **state)
{
	char name[2 * NOTE_KEY_MAX];
	struct note_key k;

	(void)state;
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(strlen(note_export_outcome(&k, name)), NOTE_KEY_MAX - 1);
	assert_memory_equal(k.text, "export:xxx", 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_key_keeps_its_spelling),
	    cmocka_unit_test(test_a_long_name_is_cut_not_overrun),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
