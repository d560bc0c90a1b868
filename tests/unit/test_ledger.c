#include "config.h"

#include <sqlite3.h>

#include "queue/db.h"
#include "queue/ledger_db.h"
#include "queue/ledger.h"
#include "queue/ledger_rows.h"
#include "queue/operations.h"
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

/* a ledger made before the schema_version table, at PRAGMA user_version v (0: no lane yet) */
static void old_ledger(const char *path, int v)
{
	sqlite3 *db;
	char sql[2048];

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
		 "CREATE TABLE files (id INTEGER PRIMARY KEY AUTOINCREMENT, partner TEXT NOT NULL,"
		 " feed TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL DEFAULT '',"
		 " size INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, path TEXT NOT NULL,"
		 " received INTEGER NOT NULL, finished INTEGER NOT NULL DEFAULT 0,"
		 " next_try INTEGER NOT NULL DEFAULT 0, rows INTEGER NOT NULL DEFAULT 0,"
		 " rows_ok INTEGER NOT NULL DEFAULT 0, rows_rejected INTEGER NOT NULL DEFAULT 0,"
		 " batches INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
		 " message TEXT NOT NULL DEFAULT '', force INTEGER NOT NULL DEFAULT 0%s);"
		 "INSERT INTO files (partner, feed, name, state, path, received%s) VALUES"
		 " ('acme', 'stock', 'old.csv', 'done', '/old', 1%s);"
		 "PRAGMA user_version = %d;",
		 v ? ", lane TEXT NOT NULL DEFAULT '', stamp INTEGER NOT NULL DEFAULT 0" : "",
		 v ? ", lane, stamp" : "", v ? ", 'seq:stock', 7" : "", v);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void one_text(void *ctx, size_t n, const char *const *col)
{
	assert_int_equal(n, 1);
	snprintf(ctx, 64, "%s", col[0]);
}

static void test_an_sqlite_ledger_of_user_version_0_or_1_migrates(void **state)
{
	char path[128], v[64];
	struct buf err = BUF_INIT(4096);
	struct ledger *l;
	struct ledger_file f;

	(void)state;
	for (int version = 0; version <= 1; version++) {
		snprintf(path, sizeof(path), "%s/old%d.db", test_dir, version);
		old_ledger(path, version);
		for (int twice = 0; twice < 2; twice++) { /* the second open finds it current */
			l = ledger_open(path, &err);
			if (l == NULL)
				fprintf(stderr, "%s\n", buf_cstr(&err));
			assert_non_null(l);
			assert_int_equal(ledger_get(l, 1, &f), 0);
			assert_string_equal(f.name, "old.csv");
			assert_string_equal(f.lane, version ? "seq:stock" : "stock");
			assert_int_equal(f.stamp, version ? 7 : 0);
			assert_int_equal(ledger_rows(l, "SELECT version FROM schema_version", one_text,
						     v, ""),
					 0);
			assert_string_equal(v, "4");
			assert_true(ledger_add(l, "acme", "stock", "new.csv", "/n", 1, 0) > 1);
			ledger_close(l);
		}
	}
	buf_release(&err);
}

static void two_texts(void *ctx, size_t n, const char *const *col)
{
	assert_int_equal(n, 2);
	snprintf(ctx, 64, "%s|%s", col[0], col[1]);
}

static void count_file(void *ctx, const struct ledger_file *f)
{
	(void)f;
	(*(int *)ctx)++;
}

static void test_placeholders_and_quotes_on_either_backend(void **state)
{
	struct ledger *l = open_here();
	char v[64];
	long long id;
	struct ledger_file f;
	int n = 0;

	(void)state;
	assert_int_equal(ledger_rows(l, "SELECT 'a?b''?', ?", two_texts, v, "s", "x?"), 0);
	assert_string_equal(v, "a?b'?|x?");
	id = ledger_add(l, "acme", "stock", "it's.csv", "/it's", 1, 0);
	ledger_each_at(l, "/it's", ST_RECEIVED, count_file, &n); /* quoted, not broken */
	assert_int_equal(n, 1);
	assert_int_equal(ledger_get(l, id, &f), 0);
	assert_string_equal(f.path, "/it's");
	ledger_close(l);
}

/* a batched write that fails (a row for no file) fails the whole write, and the ledger
   goes on answering after the rollback: on PostgreSQL the failure comes out of the pipeline */
static void test_a_failed_batched_write_rolls_back(void **state)
{
	struct ledger *l = open_here();
	struct ledger_op v[3] = {{0, "sent", "", 0, 1, NULL, NULL},
				 {1, "sent", "", 0, 1, NULL, NULL},
				 {2, "sent", "", 0, 1, NULL, NULL}};
	long long id = ledger_add(l, "acme", "shipments", "a.csv", "/a", 1, 0);

	(void)state;
	assert_int_equal(ledger_ops_put(l, id, "default", v, 3), 0);
	assert_int_equal(ledger_ops_count(l, id, "sent"), 3);
	assert_int_equal(ledger_ops_put(l, id + 100, "default", v, 3), -1); /* no such file */
	assert_true(ledger_failed(l));
	assert_int_equal(ledger_ops_count(l, id + 100, "sent"), 0);
	assert_true(ledger_add(l, "acme", "shipments", "b.csv", "/b", 1, 0) > id);
	ledger_close(l);
}

/* advisory locks: on PostgreSQL a second connection is refused the lock the first holds */
static void test_advisory_locks(void **state)
{
	struct ledger *a = open_here(), *b = open_here();
	int pg = getenv("DROPGATE_TEST_PG") != NULL;

	(void)state;
	assert_int_equal(db_lock_try(a->db, 42), 1);
	assert_int_equal(db_lock_try(b->db, 42), pg ? 0 : 1);
	assert_int_equal(db_lock_try(b->db, 43), 1);
	assert_int_equal(db_lock_release(a->db, 42), 0);
	assert_int_equal(db_lock_try(b->db, 42), 1);
	assert_int_equal(db_begin(a->db), 0);
	assert_int_equal(db_lock_xact(a->db, 44), 0);
	assert_int_equal(db_lock_try(b->db, 44), pg ? 0 : 1);
	assert_int_equal(db_commit(a->db), 0);
	assert_int_equal(db_lock_try(b->db, 44), 1); /* the transaction's end let it go */
	ledger_close(a);
	ledger_close(b);
}

static void test_locations_name_the_backend_and_a_password_is_refused(void **state)
{
	struct buf err = BUF_INIT(4096);

	(void)state;
	assert_false(db_location_is_pg("/var/lib/dropgate/ledger.db"));
	assert_false(db_location_is_pg("ledger.db"));
	assert_true(db_location_is_pg("postgresql://dropgate@db1/dropgate"));
	assert_true(db_location_is_pg("postgres://db1/dropgate"));
	assert_true(db_location_is_pg("host=db1 dbname=dropgate"));
	assert_true(db_location_is_pg(" dbname = dropgate"));
	assert_false(db_location_has_password("postgresql://dropgate@db1/dropgate"));
	assert_false(db_location_has_password("postgresql://db1:5432/dropgate?sslmode=require"));
	assert_true(db_location_has_password("postgresql://dropgate:secret@db1/dropgate"));
	assert_true(db_location_has_password("postgresql://db1/dropgate?sslmode=require&password=x"));
	assert_true(db_location_has_password("host=db1 password=secret"));
	assert_true(db_location_has_password("host=db1 password = secret"));
	assert_false(db_location_has_password("host=db1 passfile=/etc/dropgate/pgpass"));
	assert_false(db_location_has_password("host=db1 application_name='x password=y'"));
	assert_null(ledger_open("host=/nonexistent password=x dbname=d", &err));
	assert_non_null(strstr(buf_cstr(&err), "password"));
	buf_release(&err);
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
		cmocka_unit_test_setup_teardown(test_an_sqlite_ledger_of_user_version_0_or_1_migrates, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_placeholders_and_quotes_on_either_backend, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_a_failed_batched_write_rolls_back, tmpdir_setup,
						tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_advisory_locks, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_locations_name_the_backend_and_a_password_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
