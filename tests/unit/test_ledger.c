#include "config.h"

#include "queue/ledger.h"
#include "testledger.h"
#include "testutil.h"

static void test_files_states_and_events_survive_a_reopen(void **state)
{
	struct ledger *l = open_here();
	struct ledger_file f;
	long long a, b;

	(void)state;
	a = ledger_add(l, "acme", "stock", "s.csv", "/spool/acme/inbound/stock/s.csv", 10, 0);
	b = ledger_add(l, "acme", "stock", "t.csv", "/x", 5, 1);
	assert_true(a > 0 && b == a + 1);
	assert_int_equal(ledger_set_path(l, a, "/state/work/1/s.csv", "abc"), 0);
	assert_int_equal(ledger_set_state(l, a, ST_PROCESSING, "claimed"), 0);
	assert_int_equal(ledger_set_counts(l, a, 10, 9, 1, 2), 0);
	assert_int_equal(ledger_set_state(l, a, ST_PARTIAL, ""), 0);
	ledger_close(l);
	l = open_here();
	assert_int_equal(ledger_get(l, a, &f), 0);
	assert_string_equal(f.state, ST_PARTIAL);
	assert_string_equal(f.path, "/state/work/1/s.csv");
	assert_string_equal(f.sha256, "abc");
	assert_int_equal(f.rows_rejected, 1);
	assert_true(f.finished > 0);
	assert_int_equal(ledger_get(l, b, &f), 0);
	assert_int_equal(f.force, 1);
	assert_int_equal(ledger_get(l, 999, &f), -1);
	/* the same bytes, already imported */
	ledger_set_path(l, b, "/y", "abc");
	assert_int_equal(ledger_find_same(l, b, "acme", "stock", "abc", "done,partial"), a);
	assert_int_equal(ledger_find_same(l, b, "acme", "stock", "abc", "done"), 0);
	assert_int_equal(ledger_find_same(l, b, "other", "stock", "abc", "done,partial"), 0);
	assert_false(ledger_failed(l));
	ledger_close(l);
}

static void count_answer(void *ctx, const char *target, unsigned seq, const char *json)
{
	int *n = ctx;

	assert_string_equal(target, "default");
	assert_int_equal(seq, 1);
	assert_string_equal(json, "{\"x\":1}");
	(*n)++;
}

static void test_batches_and_notes(void **state)
{
	struct ledger *l = open_here();
	long long id = ledger_add(l, "acme", "stock", "s.csv", "/p", 1, 0);
	char s[16], v[64];
	int n = 0;

	(void)state;
	ledger_batch_state(l, id, "default", 1, s, sizeof(s));
	assert_string_equal(s, "");
	ledger_batch_set(l, id, "default", 1, "sent", NULL);
	ledger_batch_state(l, id, "default", 1, s, sizeof(s));
	assert_string_equal(s, "sent");
	ledger_batch_set(l, id, "default", 1, "done", "{\"x\":1}");
	ledger_batch_set(l, id, "default", 2, "sent", NULL);
	assert_int_equal(ledger_batches_done(l, id), 1);
	ledger_batch_answers(l, id, count_answer, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ledger_note_get(l, "paused", v, sizeof(v)), -1);
	ledger_note_set(l, "paused", "disk");
	ledger_note_set(l, "paused", "");
	assert_int_equal(ledger_note_get(l, "paused", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	ledger_defer(l, id, 12345, "Commerce is unreachable");
	{
		struct ledger_file f;
		ledger_get(l, id, &f);
		assert_string_equal(f.state, ST_DEFERRED);
		assert_int_equal(f.next_try, 12345);
		assert_int_equal(f.attempts, 1);
	}
	assert_true(ledger_in_flight_path(l, "/p"));
	ledger_close(l);
}

static void collect_request(void *ctx, const struct ledger_request *r)
{
	struct buf *out = ctx;

	buf_printf(out, "%s/%u/%u %s %s %s;", r->target, r->seq, r->sub, r->rows, r->state, r->answer);
}

static void test_requests_of_a_batch_survive_a_reopen(void **state)
{
	struct ledger *l = open_here();
	struct ledger_request r;
	struct buf all = BUF_INIT(BUF_NOCAP);
	long long id;

	(void)state;
	id = ledger_add(l, "acme", "stock", "s.csv", "/x", 10, 0);
	assert_int_equal(ledger_request_get(l, id, "default", 1, 0, &r), -1);
	assert_int_equal(ledger_request_set(l, id, "default", 1, 0, "1-10", "sent", NULL, NULL), 0);
	assert_int_equal(ledger_request_set(l, id, "default", 1, 0, "1-10", "refused", "{\"class\":4}", NULL), 0);
	assert_int_equal(ledger_request_set(l, id, "default", 1, 1, "1-6,8-10", "sent", NULL, NULL), 0);
	assert_int_equal(ledger_batches_done(l, id), 0);
	assert_int_equal(ledger_request_set(l, id, "default", 2, 0, "1-5", "done", "{}", "done"), 0);
	assert_int_equal(ledger_batches_done(l, id), 1); /* the answer settled batch 2 */
	ledger_close(l);
	l = open_here();
	assert_int_equal(ledger_request_get(l, id, "default", 1, 0, &r), 0);
	assert_string_equal(r.rows, "1-10");
	assert_string_equal(r.state, "refused");
	assert_string_equal(r.answer, "{\"class\":4}");
	ledger_request_release(&r);
	ledger_requests(l, id, collect_request, &all);
	assert_string_equal(buf_cstr(&all), "default/1/0 1-10 refused {\"class\":4};default/1/1 1-6,8-10 sent ;"
					       "default/2/0 1-5 done {};");
	buf_release(&all);
	ledger_close(l);
}

/* issue 9 items 18-19: a worker takes a file only while it is the first in flight of its key */
static void test_first_in_flight_and_groups(void **state)
{
	struct ledger *l = open_here();
	static const char *const feeds[] = { "stock", "price" };
	long long ids[2], a, b;

	(void)state;
	assert_int_equal(ledger_first_in_flight(l, "acme", "stock"), 0);
	a = ledger_add(l, "acme", "stock", "a.csv", "/a", 1, 0);
	b = ledger_add(l, "acme", "stock", "b.csv", "/b", 1, 0);
	assert_int_equal(ledger_first_in_flight(l, "acme", "stock"), a);
	ledger_defer(l, a, 1, "later");
	assert_int_equal(ledger_first_in_flight(l, "acme", "stock"), a); /* deferred holds its place */
	ledger_set_state(l, a, ST_DONE, "");
	assert_int_equal(ledger_first_in_flight(l, "acme", "stock"), b);
	assert_int_equal(ledger_add_group(l, "acme", feeds, 2, "p.csv", "/p", 3, 0, ST_RECEIVED, "/p",
					  NULL, ids),
			 0);
	assert_true(ids[1] == ids[0] + 1);
	assert_int_equal(ledger_count_at(l, "/p", "received", -1), 2);
	assert_int_equal(ledger_count_at(l, "/p", "received", 4), 0);
	assert_int_equal(ledger_count_at(l, "/p", "refused", -1), 0);
	assert_int_equal(ledger_first_in_flight(l, "acme", "price"), ids[1]);
	assert_int_equal(ledger_claim_retry(l, ids[0], 99, "wait"), 0);
	ledger_set_state(l, b, ST_DONE, "");
	assert_int_equal(ledger_claim_retry(l, b, 99, "wait"), 0); /* not received: unchanged */
	{
		struct ledger_file f;
		ledger_get(l, ids[0], &f);
		assert_int_equal(f.next_try, 99);
		assert_int_equal(f.attempts, 1);
		ledger_get(l, b, &f);
		assert_string_equal(f.state, ST_DONE);
		assert_int_equal(f.attempts, 0);
	}
	ledger_close(l);
}

static void test_a_lane_goes_by_stamp_then_claim(void **state)
{
	struct ledger *l = open_here();
	const char *full[] = {"stock_full"}, *delta[] = {"stock_delta"};
	struct ledger_lane late = {"seq:stock", 2000}, early = {"seq:stock", 1000};
	long long a, b, c;
	struct ledger_file f;

	(void)state;
	/* the delta stamped 2000 is claimed first, the snapshot stamped 1000 after it */
	assert_int_equal(ledger_add_group(l, "acme", delta, 1, "d.csv", "/d", 1, 0, ST_RECEIVED, "/d",
					  &late, &a),
			 0);
	assert_int_equal(ledger_add_group(l, "acme", full, 1, "f.csv", "/f", 1, 0, ST_RECEIVED, "/f",
					  &early, &b),
			 0);
	assert_int_equal(ledger_first_in_flight(l, "acme", "seq:stock"), b);
	assert_int_equal(ledger_get(l, a, &f), 0);
	assert_string_equal(f.lane, "seq:stock");
	assert_int_equal(f.stamp, 2000);
	/* a feed outside a sequence is its own lane, stamp 0 */
	c = ledger_add(l, "acme", "prices", "p.csv", "/p", 1, 0);
	assert_int_equal(ledger_get(l, c, &f), 0);
	assert_string_equal(f.lane, "prices");
	assert_int_equal(f.stamp, 0);
	ledger_set_state(l, b, ST_DONE, NULL);
	assert_int_equal(ledger_first_in_flight(l, "acme", "seq:stock"), a);
	ledger_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_files_states_and_events_survive_a_reopen, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_batches_and_notes, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_requests_of_a_batch_survive_a_reopen, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_first_in_flight_and_groups, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_a_lane_goes_by_stamp_then_claim, tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
