/*
 * test_nodes - two nodes on one ledger (queue/nodes.h): one claim per file,
 * one node per file and lane, leases that lapse, and the fence on a node that
 * lost its lease. Two connections to one ledger stand for the two appliances;
 * on PostgreSQL (DROPGATE_TEST_PG) as on SQLite.
 */
#include "config.h"

#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/nodes.h"
#include "testledger.h"
#include "testutil.h"

static const char *const stock[] = {"stock"};

/* lapse: node name's lease ran out long ago (the database's clock is the judge) */
static void lapse(struct ledger *l, const char *name)
{
	assert_int_equal(ledger_run(l, "UPDATE nodes SET renewed = renewed - 1000 WHERE name = ?",
				    "s", name),
			 0);
}

static long long claim(struct ledger *l, const char *name, const char *ident, int want)
{
	long long id = 0;

	assert_int_equal(ledger_add_claim(l, "acme", stock, 1, name, "/spool/x", 3, ident,
					  ST_RECEIVED, "/spool/x", NULL, &id),
			 want);
	return id;
}

static void test_one_claim_per_file(void **state)
{
	struct ledger *a = open_here(), *b = open_here();
	long long id;

	(void)state;
	assert_int_equal(ledger_node_register(a, "a", "host-a", 1, 30), 0);
	assert_int_equal(ledger_node_register(b, "b", "host-b", 2, 30), 0);
	id = claim(a, "in.csv", "3:1.0:7:1.0", 0);
	assert_true(id > 0);
	claim(b, "in.csv", "3:1.0:7:1.0", 1); /* the loser adds nothing */
	assert_false(ledger_failed(b));
	assert_int_equal(ledger_single_int(b, "SELECT count(*) FROM files", ""), 1);
	/* a new upload under the name is another file */
	assert_true(claim(b, "in.csv", "3:2.0:7:2.0", 0) > id);
	ledger_close(a);
	ledger_close(b);
}

static void test_a_file_and_its_lane_have_one_node(void **state)
{
	struct ledger *a = open_here(), *b = open_here();
	long long x, y;

	(void)state;
	ledger_node_register(a, "a", "host-a", 1, 30);
	ledger_node_register(b, "b", "host-b", 2, 30);
	x = claim(a, "x.csv", "1", 0);
	y = claim(b, "y.csv", "2", 0);
	assert_int_equal(ledger_take(a, x, "acme", "stock"), 1);
	assert_int_equal(ledger_take(b, x, "acme", "stock"), 0); /* a's file */
	assert_int_equal(ledger_take(b, y, "acme", "stock"), 0); /* b's file, a's lane */
	assert_int_equal(ledger_take(a, y, "acme", "stock"), 0); /* a's lane, b's file */
	assert_int_equal(ledger_lane_release(a, "acme", "stock"), 0);
	assert_int_equal(ledger_take(b, y, "acme", "stock"), 1);
	assert_int_equal(ledger_take(b, x, "acme", "stock"), 0); /* still a's, alive */
	ledger_lane_release(b, "acme", "stock");
	ledger_node_leave(a); /* a clean stop: what a parked is free at once */
	assert_int_equal(ledger_take(b, x, "acme", "stock"), 1);
	assert_int_equal(ledger_set_state(b, x, ST_DONE, ""), 0);
	ledger_lane_release(b, "acme", "stock");
	assert_int_equal(ledger_take(b, y, "acme", "stock"), 1);
	/* an ended file is taken by nobody */
	assert_int_equal(ledger_set_state(b, y, ST_DONE, ""), 0);
	ledger_lane_release(b, "acme", "stock");
	assert_int_equal(ledger_take(b, y, "acme", "stock"), 0);
	ledger_close(a);
	ledger_close(b);
}

struct seen {
	int n, alive_a, alive_b;
	long long held_a, held_b;
};

static void see(void *ctx, const struct ledger_node *n)
{
	struct seen *s = ctx;

	s->n++;
	if (strcmp(n->name, "a") == 0) {
		s->alive_a = n->alive;
		s->held_a = n->held;
	} else {
		s->alive_b = n->alive;
		s->held_b = n->held;
	}
}

static void test_a_lapsed_lease_is_taken_over_and_fenced(void **state)
{
	struct ledger *a = open_here(), *b = open_here();
	struct ledger_request r;
	struct ledger_file f;
	struct seen s = {0};
	long long x;

	(void)state;
	ledger_node_register(a, "a", "host-a", 1, 30);
	ledger_node_register(b, "b", "host-b", 2, 30);
	x = claim(a, "x.csv", "1", 0);
	assert_int_equal(ledger_take(a, x, "acme", "stock"), 1);
	assert_int_equal(ledger_set_state(a, x, ST_SUBMITTING, "parsed"), 0);
	assert_int_equal(ledger_request_set(a, x, "default", 1, 0, "1-2", "sent", NULL, NULL), 0);
	ledger_nodes(b, see, &s);
	assert_int_equal(s.n, 2);
	assert_true(s.alive_a && s.alive_b);
	assert_int_equal(s.held_a, 1);
	assert_int_equal(s.held_b, 0);

	assert_true(ledger_node_leads(a));
	assert_false(ledger_node_leads(b));
	lapse(b, "a"); /* kill -9, power, network: a stops renewing */
	assert_true(ledger_node_leads(b)); /* late feeds and alerts: b tells them now */
	assert_int_equal(ledger_take(b, x, "acme", "stock"), 1);
	/* a's writes change nothing now, and a is told: its job stops */
	assert_false(ledger_fenced(a, x));
	assert_int_equal(ledger_request_set(a, x, "default", 2, 0, "3-4", "sent", NULL, NULL), -1);
	assert_int_equal(ledger_set_state(a, x, ST_DONE, "by a"), -1);
	assert_int_equal(ledger_batch_set(a, x, "default", 1, "done", NULL), -1);
	assert_true(ledger_fenced(a, x));
	assert_false(ledger_failed(a));
	assert_int_equal(ledger_request_get(b, x, "default", 2, 0, &r), -1);
	assert_int_equal(ledger_get(b, x, &f), 0);
	assert_string_equal(f.state, ST_SUBMITTING);
	/* b resumes from what a recorded */
	assert_int_equal(ledger_request_get(b, x, "default", 1, 0, &r), 0);
	assert_string_equal(r.state, "sent");
	ledger_request_release(&r);
	assert_int_equal(ledger_set_state(b, x, ST_DONE, "by b"), 0);
	/* a, back, learns its lease had lapsed: a new epoch */
	assert_int_equal(ledger_node_renew(a), 1);
	assert_int_equal(ledger_node_renew(a), 0);
	/* a file a lost and takes again (b gone in turn) is a's to write again */
	{
		long long z = claim(b, "z.csv", "9", 0);
		lapse(a, "b");
		assert_int_equal(ledger_take(a, z, "acme", "z"), 1);
		assert_int_equal(ledger_set_state(a, z, ST_PROCESSING, "a"), 0);
		lapse(b, "a");
		assert_int_equal(ledger_node_renew(b), 1); /* b's lease had lapsed too: a new epoch */
		assert_int_equal(ledger_take(b, z, "acme", "z"), 1);
		assert_int_equal(ledger_set_state(a, z, ST_SUBMITTING, "a"), -1);
		assert_true(ledger_fenced(a, z));
		lapse(a, "b");
		assert_int_equal(ledger_node_renew(a), 1);
		assert_int_equal(ledger_take(a, z, "acme", "z"), 1);
		assert_false(ledger_fenced(a, z));
		assert_int_equal(ledger_set_state(a, z, ST_SUBMITTING, "a"), 0);
	}
	s = (struct seen){0};
	ledger_nodes(b, see, &s);
	assert_true(s.alive_a);
	assert_int_equal(s.held_b, 0); /* done: held no more */
	ledger_close(a);
	ledger_close(b);
}

/* a command (no node) writes without a fence, as before */
static void test_without_a_node_nothing_is_fenced(void **state)
{
	struct ledger *l = open_here();
	long long id = ledger_add(l, "acme", "stock", "s.csv", "/s", 1, 0);

	(void)state;
	assert_int_equal(ledger_take(l, id, "acme", "stock"), 1);
	assert_int_equal(ledger_set_state(l, id, ST_PROCESSING, "claimed"), 0);
	assert_int_equal(ledger_node_renew(l), 0);
	ledger_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_claim_per_file, tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_a_file_and_its_lane_have_one_node, tmpdir_setup,
					    tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_a_lapsed_lease_is_taken_over_and_fenced,
					    tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_without_a_node_nothing_is_fenced, tmpdir_setup,
					    tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
