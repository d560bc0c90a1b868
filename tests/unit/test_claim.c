/* claim_finish: a claim cut at each step is finished from the ledger alone. */
#include "config.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "claim/claim.h"
#include "queue/spool.h"
#include "testledger.h"
#include "testutil.h"

static void put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static char *slurp(const char *path)
{
	static char text[256];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

struct fixture {
	struct conf c;
	struct ledger *l;
	char spool_file[256];
	long long ids[2];
};

/* setup: a spool file in.csv and two received rows for it (feeds a and b). */
static void setup(struct fixture *fx, const char *state)
{
	static const char *const feeds[] = { "a", "b" };
	char path[256];
	struct buf err = BUF_INIT(4096);

	memset(fx, 0, sizeof(*fx));
	snprintf(path, sizeof(path), "%s/%s", test_dir, state);
	fx->c.state = strdup(path);
	fx->c.retry_deferred = 5;
	fx->c.retry_deferred_max = 60;
	test_ledger_location(path, sizeof(path));
	fx->l = ledger_open(path, &err);
	assert_non_null(fx->l);
	snprintf(fx->spool_file, sizeof(fx->spool_file), "%s/in.csv", test_dir);
	put(fx->spool_file, "whole");
	assert_int_equal(ledger_add_group(fx->l, "acme", feeds, 2, "in.csv", fx->spool_file, 5, 0,
					  ST_RECEIVED, "test", NULL, fx->ids),
			 0);
	buf_release(&err);
}

static void teardown(struct fixture *fx)
{
	ledger_close(fx->l);
	free(fx->c.state);
}

static char *work_file(struct fixture *fx, int k)
{
	static char path[2][256];

	snprintf(path[k], sizeof(path[k]), "%s/work/%lld/in.csv", fx->c.state, fx->ids[k]);
	return path[k];
}

/* first_work_dir: work/<first id>/ made, as a claim does before its move */
static void first_work_dir(struct fixture *fx)
{
	struct buf err = BUF_INIT(4096);
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/work/%lld", fx->c.state, fx->ids[0]);
	assert_int_equal(mkdirs(dir, 0750, &err), 0);
	buf_release(&err);
}

static void assert_claimed(struct fixture *fx)
{
	struct ledger_file f;

	for (int k = 0; k < 2; k++) {
		assert_int_equal(ledger_get(fx->l, fx->ids[k], &f), 0);
		assert_string_equal(f.state, ST_PROCESSING);
		assert_string_equal(f.path, work_file(fx, k));
		assert_string_equal(slurp(work_file(fx, k)), "whole");
	}
	assert_int_equal(access(fx->spool_file, F_OK), -1);
}

static void test_claim_from_the_spool(void **state)
{
	struct fixture fx;

	(void)state;
	setup(&fx, "state");
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), 0);
	assert_claimed(&fx);
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), 0); /* nothing left to do */
	teardown(&fx);
}

/* issue 9 item 2: moved for feed a, killed before the link for feed b */
static void test_cut_after_the_first_move(void **state)
{
	struct fixture fx;

	(void)state;
	setup(&fx, "state");
	first_work_dir(&fx);
	assert_int_equal(rename(fx.spool_file, work_file(&fx, 0)), 0);
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), 0);
	assert_claimed(&fx);
	teardown(&fx);
}

/*
 * The ledger took the second row's new path, then failed before its state
 * (the disk-fault run: DROPGATE_SEED=3527526913 DROPGATE_FAULT_NS=184). That
 * row names its own work copy: finishing it must not take the copy for a
 * leftover original and unlink it.
 */
static void test_cut_between_the_rows_updates(void **state)
{
	struct fixture fx;
	struct buf err = BUF_INIT(4096);
	struct ledger_file f;
	char dir[256];

	(void)state;
	setup(&fx, "state");
	first_work_dir(&fx);
	assert_int_equal(rename(fx.spool_file, work_file(&fx, 0)), 0);
	snprintf(dir, sizeof(dir), "%s/work/%lld", fx.c.state, fx.ids[1]);
	assert_int_equal(mkdirs(dir, 0750, &err), 0);
	assert_int_equal(link(work_file(&fx, 0), work_file(&fx, 1)), 0);
	assert_int_equal(ledger_set_path(fx.l, fx.ids[0], work_file(&fx, 0), NULL), 0);
	assert_int_equal(ledger_set_state(fx.l, fx.ids[0], ST_PROCESSING, "claimed"), 0);
	assert_int_equal(ledger_set_path(fx.l, fx.ids[1], work_file(&fx, 1), NULL), 0);
	/* the first feed's file goes on and ends: its work copy is gone */
	assert_int_equal(unlink(work_file(&fx, 0)), 0);
	assert_int_equal(claim_finish(fx.l, &fx.c, work_file(&fx, 1)), 0);
	assert_int_equal(ledger_get(fx.l, fx.ids[1], &f), 0);
	assert_string_equal(f.state, ST_PROCESSING);
	assert_string_equal(slurp(work_file(&fx, 1)), "whole");
	buf_release(&err);
	teardown(&fx);
}

/* issue 9 item 3: a copy cut halfway is only a temporary name, never trusted */
static void test_half_copy_is_not_taken(void **state)
{
	struct fixture fx;
	char *tmp;

	(void)state;
	setup(&fx, "state");
	first_work_dir(&fx);
	tmp = spool_temp_name(work_file(&fx, 0));
	put(tmp, "wh");
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), 0);
	assert_claimed(&fx);
	free(tmp);
	teardown(&fx);
}

/* issue 9 item 3: the copy renamed whole, the original not yet unlinked */
static void test_cut_before_the_unlink(void **state)
{
	struct fixture fx;

	(void)state;
	setup(&fx, "state");
	first_work_dir(&fx);
	put(work_file(&fx, 0), "whole");
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), 0);
	assert_claimed(&fx); /* the original went: it is not claimed a second time */
	teardown(&fx);
}

/* a new upload under the same name after the move is not the claimed file: it stays */
static void test_new_upload_under_the_same_name_stays(void **state)
{
	struct fixture fx;

	(void)state;
	setup(&fx, "state");
	first_work_dir(&fx);
	assert_int_equal(rename(fx.spool_file, work_file(&fx, 0)), 0);
	put(fx.spool_file, "newer");
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), 0);
	assert_string_equal(slurp(fx.spool_file), "newer");
	assert_string_equal(slurp(work_file(&fx, 1)), "whole");
	teardown(&fx);
}

/* issue 9 item 4: a claim that cannot move keeps its rows, waiting, doubling */
static void test_failed_move_waits_in_place(void **state)
{
	struct fixture fx;
	struct ledger_file f;
	time_t now = time(NULL);

	(void)state;
	setup(&fx, "state");
	put(fx.c.state, "not a directory"); /* work/<id> cannot be made */
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), -1);
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), -1);
	assert_int_equal(ledger_get(fx.l, fx.ids[0], &f), 0);
	assert_string_equal(f.state, ST_RECEIVED);
	assert_string_equal(f.path, fx.spool_file);
	assert_int_equal(f.attempts, 2);
	assert_true(f.next_try >= now + 10 && f.next_try <= now + 11); /* 5 s, then 10 s */
	assert_non_null(strstr(f.message, "next try in 10s"));
	assert_string_equal(slurp(fx.spool_file), "whole");
	assert_int_equal(ledger_count_at(fx.l, fx.spool_file, "received", -1), 2);
	teardown(&fx);
}

static void test_gone_file_fails_its_rows(void **state)
{
	struct fixture fx;
	struct ledger_file f;

	(void)state;
	setup(&fx, "state");
	unlink(fx.spool_file);
	assert_int_equal(claim_finish(fx.l, &fx.c, fx.spool_file), -1);
	assert_int_equal(ledger_get(fx.l, fx.ids[1], &f), 0);
	assert_string_equal(f.state, ST_FAILED);
	assert_non_null(strstr(f.message, "is gone before it was claimed"));
	teardown(&fx);
}

/* issue 9 item 9: a marker older than its file is left over from an earlier upload */
static void test_ok_marker_must_be_newer(void **state)
{
	char file[256], ok[256];
	struct timeval old[2] = { { 1000, 0 }, { 1000, 0 } };
	struct stat st;

	(void)state;
	snprintf(file, sizeof(file), "%s/x.csv", test_dir);
	snprintf(ok, sizeof(ok), "%s/x.csv.ok", test_dir);
	put(file, "half");
	assert_int_equal(stat(file, &st), 0);
	assert_false(claim_marker_fresh(file, &st));
	put(ok, "");
	assert_true(claim_marker_fresh(file, &st));
	assert_int_equal(utimes(ok, old), 0);
	assert_false(claim_marker_fresh(file, &st));
	claim_marker_remove(file);
	assert_int_equal(access(ok, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_claim_from_the_spool, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_cut_after_the_first_move, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_cut_between_the_rows_updates, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_half_copy_is_not_taken, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_cut_before_the_unlink, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_new_upload_under_the_same_name_stays, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_failed_move_waits_in_place, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_gone_file_fails_its_rows, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_ok_marker_must_be_newer, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
