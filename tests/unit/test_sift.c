#include "config.h"

#include <sys/stat.h>

#include "lib/entity.h"
#include "lib/parsed.h"
#include "lib/stamp.h"
#include "queue/keys.h"
#include "queue/ledger.h"
#include "queue/ledger_rows.h"
#include "lib/rowsum.h"
#include "parse/parcel.h"
#include "sift/known.h"
#include "sift/sift.h"
#include "util/keyset.h"
#include "util/xalloc.h"
#include "testconf.h"
#include "testledger.h"
#include "testutil.h"

static void test_stamp_is_found_anywhere_in_the_name_as_utc(void **state)
{
	time_t t;
	char text[32];

	(void)state;
	assert_int_equal(stamp_from_name("%Y%m%dT%H%M", "stock_full_20261127T0200.csv", &t), 0);
	stamp_text(t, text, sizeof(text));
	assert_string_equal(text, "2026-11-27T02:00:00Z");
	assert_int_equal(stamp_from_name("%Y-%m-%d", "erp.2026-11-28.csv.gz", &t), 0);
	stamp_text(t, text, sizeof(text));
	assert_string_equal(text, "2026-11-28T00:00:00Z");
	assert_int_equal(stamp_from_name("%Y%m%dT%H%M", "stock_full_latest.csv", &t), -1);
	/* the arrival time when the kind is neither */
	assert_int_equal(stamp_of(STAMP_ARRIVAL, NULL, "x", 5, 77, &t), 0);
	assert_int_equal(t, 77);
	assert_int_equal(stamp_of(STAMP_MTIME, NULL, "x", 5, 77, &t), 0);
	assert_int_equal(t, 5);
	assert_int_equal(stamp_of(STAMP_NAME, "%Y", "none", 5, 77, &t), -1);
	assert_int_equal(t, 77);
}

static struct strview svs[8];

static const struct strview *views(const char *a, const char *b, const char *c, const char *d)
{
	const char *v[] = {a, b, c, d};
	for (int i = 0; i < 4; i++)
		svs[i] = sv_from(v[i]);
	return svs;
}

static void test_digest_ignores_column_order_and_key_is_the_entitys(void **state)
{
	const struct entity *e = entity_find("stock_sources");
	struct row_layout a, b;
	struct buf key = BUF_INIT(1024), scratch = BUF_INIT(1024);
	uint64_t ka, kb, da, db;

	(void)state;
	layout_init(&a, e, views("source_code", "sku", "quantity", "status"), 4);
	layout_init(&b, e, views("status", "quantity", "sku", "source_code"), 4);
	ka = row_key(&a, views("default", "SKU-1", "5", "1"), &key);
	assert_string_equal(buf_cstr(&key), "default,SKU-1");
	da = row_digest(&a, views("default", "SKU-1", "5", "1"), &scratch);
	kb = row_key(&b, views("1", "5", "SKU-1", "default"), &key);
	db = row_digest(&b, views("1", "5", "SKU-1", "default"), &scratch);
	assert_true(ka == kb && da == db);
	assert_true(row_digest(&a, views("default", "SKU-1", "6", "1"), &scratch) != da);
	/* a key holding the separator is quoted, so it cannot meet another */
	row_key(&a, views("a,b", "c", "1", "1"), &key);
	assert_string_equal(buf_cstr(&key), "\"a,b\",c");
	assert_int_equal(row_key(&a, views("", "", "1", "1"), &key), 0);
	/* Commerce compares keys without case: so does the store */
	assert_true(row_key(&a, views("default", "sku-1", "5", "1"), &key) == ka);
	assert_string_equal(buf_cstr(&key), "default,sku-1");
	assert_true(keys_hash("DEFAULT,sku-1") == ka);
	/* the parse's one-pass hash is row_key's, quoted fields (its long way) and all */
	{
		static const char *const keys[][2] = {
		    {"default", "SKU-1"}, {"Def\"ault", "x"}, {"a,b", "C"}, {"", "Z\n"},
		    {"", ""},		  {"\xc3\x84", "@[`{"}, {"A\rB", ""},
		};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			const struct strview *v = views(keys[i][0], keys[i][1], "1", "1");
			assert_true(row_key_hash(&a, v, &scratch) == row_key(&a, v, &key));
		}
	}
	layout_release(&a);
	layout_release(&b);
	buf_release(&key);
	buf_release(&scratch);
}

static void test_the_store_keeps_the_newest_and_a_snapshot_marks_what_it_held(void **state)
{
	struct ledger *l = open_here();
	struct key_scope s, again;
	struct known k;
	struct key_entry e[3] = {
	    {"default,A", 0, 11, 100, 1, "source_code,sku,quantity,status", "default,A,1,1"},
	    {"default,B", 0, 22, 100, 1, "source_code,sku,quantity,status", "default,B,2,1"},
	    {"default,C", 0, 33, 300, 0, "source_code,sku,quantity,status", "default,C,3,1"},
	};
	struct key_entry older = {"default,C", 0, 44, 200, 0, "h", "r"};
	uint64_t lacking;

	(void)state;
	assert_int_equal(keys_scope(l, "acme", "stock", "default", &s), 0);
	assert_int_equal(keys_scope(l, "acme", "stock", "default", &again), 0);
	assert_int_equal(s.id, again.id);
	assert_int_equal(keys_put(l, s.id, e, 3, NULL, -1), 0);
	assert_int_equal(keys_put(l, s.id, &older, 1, NULL, -1), 0); /* older than what is stored: kept */
	assert_int_equal(keys_count(l, s.id), 3);
	assert_int_equal(known_load(&k, l, s.id), 0);
	assert_int_equal(k.n, 3);
	{
		const struct known_entry *c = known_find(&k, keys_hash("default,C"));
		assert_non_null(c);
		assert_true(c->digest == 33 && c->stamp == 300);
	}
	assert_null(known_find(&k, 12345));
	known_release(&k);
	/* a full snapshot at 500 held A and C, lacked B */
	lacking = keys_hash("default,B");
	assert_int_equal(keys_full_done(l, s.id, 500, 0, &lacking, 1, NULL), 1);
	assert_int_equal(keys_scope(l, "acme", "stock", "default", &s), 0);
	assert_int_equal(s.full_stamp, 500);
	assert_int_equal(s.complete_stamp, 0);
	assert_int_equal(known_load(&k, l, s.id), 0);
	{
		const struct known_entry *a = known_find(&k, keys_hash("default,A"));
		const struct known_entry *b = known_find(&k, keys_hash("default,B"));
		assert_int_equal(known_stamp_of(s.full_stamp, s.complete_stamp, a), 500);
		assert_int_equal(known_stamp_of(s.full_stamp, s.complete_stamp, b), 100);
		assert_int_equal(known_stamp_of(s.full_stamp, s.complete_stamp, NULL), 0);
	}
	known_release(&k);
	/* an older snapshot through later leaves the newer one's marks */
	assert_int_equal(keys_full_done(l, s.id, 400, 1, NULL, 0, NULL), 0);
	assert_int_equal(keys_scope(l, "acme", "stock", "default", &s), 0);
	assert_int_equal(s.full_stamp, 500);
	assert_int_equal(s.complete_stamp, 400);
	ledger_close(l);
}

/* same: two tables hold the same entries */
static void assert_same_table(const struct known *a, const struct known *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_true(a->v[i].khash == b->v[i].khash);
		assert_true(a->v[i].digest == b->v[i].digest);
		assert_int_equal(a->v[i].stamp, b->v[i].stamp);
		assert_int_equal(a->v[i].flags, b->v[i].flags);
		assert_ptr_equal(known_find(a, a->v[i].khash), &a->v[i]);
	}
}

static long long gen_of(struct ledger *l)
{
	struct key_scope s;

	assert_int_equal(keys_scope(l, "acme", "stock", "default", &s), 0);
	return s.gen;
}

static void test_a_kept_table_takes_the_stores_writes_and_is_read_again_after_one_it_missed(
    void **state)
{
	struct ledger *l = open_here();
	struct key_scope s;
	struct known k, fresh;
	char keys[200][32], rows[200][32];
	struct key_entry e[200], later = {"default,K7", 0, 999, 900, 0, "h", "r"};
	struct key_entry outside = {"default,OUT", 0, 5, 50, 0, "h", "r"};
	long long gen;
	uint64_t lacking[2];
	unsigned long reads;
	void *kept;

	(void)state;
	known_forget();
	assert_int_equal(keys_scope(l, "acme", "stock", "default", &s), 0);
	assert_int_equal(known_take(&k, l, s.id, s.gen), 0); /* the first file: nothing known */
	assert_int_equal(k.n, 0);
	known_keep(&k);
	/* two flushes of 100 confirmed rows, the second also newer rows of 50 of the first's */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 100; i++) {
			int n = round * 50 + i;
			snprintf(keys[i], sizeof(keys[i]), "default,K%d", n);
			snprintf(rows[i], sizeof(rows[i]), "default,K%d,%d,1", n, round);
			e[i] = (struct key_entry){keys[i], keys_hash(keys[i]), 100 + (uint64_t)round,
						  100 + round, 1, "h", rows[i]};
		}
		assert_int_equal(keys_put(l, s.id, e, 100, &gen, -1), 0);
		known_stored(s.id, gen, e, 100);
	}
	/* one row older than the stored one is left, as the store leaves it */
	later.stamp = 50;
	assert_int_equal(keys_put(l, s.id, &later, 1, &gen, -1), 0);
	known_stored(s.id, gen, &later, 1);
	lacking[0] = keys_hash("default,K3");
	lacking[1] = keys_hash("default,K140");
	assert_int_equal(keys_full_done(l, s.id, 500, 1, lacking, 2, &gen), 1);
	known_marked(s.id, gen, 1, lacking, 2);
	/* the kept table is used, and is what the store holds */
	reads = known_reads();
	assert_int_equal(known_take(&k, l, s.id, gen_of(l)), 0);
	assert_int_equal(known_reads(), reads);
	assert_int_equal(k.n, 150);
	assert_int_equal(known_load(&fresh, l, s.id), 0);
	assert_same_table(&k, &fresh);
	known_release(&fresh);
	kept = k.v;
	known_keep(&k);
	assert_int_equal(known_take(&k, l, s.id, gen_of(l)), 0);
	assert_ptr_equal(k.v, kept);
	assert_int_equal(known_reads(), reads); /* not read again */
	known_keep(&k);
	/* a write it did not see (another process: dropgate baseline) */
	assert_int_equal(keys_put(l, s.id, &outside, 1, NULL, -1), 0);
	assert_int_equal(known_take(&k, l, s.id, gen_of(l)), 0);
	assert_int_equal(known_reads(), reads + 1);
	assert_int_equal(k.n, 151);
	assert_non_null(known_find(&k, keys_hash("default,OUT")));
	known_keep(&k);
	/* a write it saw after one it missed: dropped, not patched */
	outside.key = "default,OUT2";
	assert_int_equal(keys_put(l, s.id, &outside, 1, NULL, -1), 0);
	assert_int_equal(keys_put(l, s.id, &later, 1, &gen, -1), 0);
	known_stored(s.id, gen, &later, 1);
	assert_int_equal(known_take(&k, l, s.id, gen_of(l)), 0);
	assert_int_equal(known_reads(), reads + 2);
	assert_int_equal(k.n, 152);
	assert_int_equal(known_load(&fresh, l, s.id), 0);
	assert_same_table(&k, &fresh);
	known_release(&fresh);
	known_release(&k);
	known_forget();
	ledger_close(l);
}

static void one_number(void *ctx, size_t n, const char *const *col)
{
	(void)n;
	*(long long *)ctx = atoll(col[0]);
}

static long long number(struct ledger *l, const char *sql)
{
	long long v = -1;

	assert_int_equal(ledger_rows(l, sql, one_number, &v, ""), 0);
	return v;
}

struct seen_entry {
	char key[32], row[32];
	long long stamp;
	int in_full;
};

static void got_entry(void *ctx, const struct key_entry *e)
{
	struct seen_entry *se = ctx;

	snprintf(se->key, sizeof(se->key), "%s", e->key);
	snprintf(se->row, sizeof(se->row), "%s", e->row);
	se->stamp = e->stamp;
	se->in_full = e->in_full;
}

static int count_entry(void *ctx, const struct key_entry *e)
{
	(void)e;
	(*(size_t *)ctx)++;
	return 0;
}

/* put_n: keys K<from>..K<from+n-1> at stamp, value v */
static void put_n(struct ledger *l, long long scope, int from, int n, long long stamp, int v,
		  int in_full)
{
	char (*keys)[32] = calloc((size_t)n, 32), (*rows)[32] = calloc((size_t)n, 32);
	struct key_entry *e = calloc((size_t)n, sizeof(*e));

	for (int i = 0; i < n; i++) {
		snprintf(keys[i], 32, "default,K%d", from + i);
		snprintf(rows[i], 32, "default,K%d,%d,1", from + i, v);
		e[i] = (struct key_entry){keys[i], 0, (uint64_t)v, stamp, in_full, "h", rows[i]};
	}
	assert_int_equal(keys_put(l, scope, e, (size_t)n, NULL, -1), 0);
	free(keys);
	free(rows);
	free(e);
}

static void test_a_small_write_goes_to_the_recent_rows_and_every_reader_sees_it(void **state)
{
	struct ledger *l = open_here();
	struct key_scope s;
	struct known k;
	struct seen_entry se;
	size_t n = 0;
	uint64_t lacking = keys_hash("default,K3");

	(void)state;
	assert_int_equal(keys_scope(l, "acme", "stock", "default", &s), 0);
	put_n(l, s.id, 0, 100, 100, 1, 1); /* an empty store: straight into keys */
	assert_int_equal(number(l, "SELECT count(*) FROM keys_recent"), 0);
	put_n(l, s.id, 0, 5, 200, 2, 0);  /* 5 of 100 known: the recent rows */
	put_n(l, s.id, 100, 2, 200, 2, 0); /* two new keys too */
	assert_int_equal(number(l, "SELECT count(*) FROM keys_recent"), 7);
	assert_int_equal(number(l, "SELECT count(*) FROM keys"), 100);
	put_n(l, s.id, 1, 1, 150, 3, 0); /* older than K1's recent row: left */
	put_n(l, s.id, 50, 1, 50, 3, 0); /* older than K50's row in keys: not even recent */
	assert_int_equal(number(l, "SELECT count(*) FROM keys_recent"), 7);
	assert_int_equal(keys_count(l, s.id), 102);
	assert_int_equal(keys_get(l, s.id, keys_hash("default,K1"), got_entry, &se), 0);
	assert_string_equal(se.row, "default,K1,2,1");
	assert_int_equal(se.stamp, 200);
	assert_int_equal(se.in_full, 1); /* keys' row was held by the full */
	assert_int_equal(keys_get(l, s.id, keys_hash("default,K50"), got_entry, &se), 0);
	assert_string_equal(se.row, "default,K50,1,1");
	assert_int_equal(keys_each(l, s.id, count_entry, &n), 0);
	assert_int_equal(n, 102);
	/* a full snapshot lacking K3 (a recent key): not held in either table */
	assert_int_equal(keys_full_done(l, s.id, 300, 0, &lacking, 1, NULL), 1);
	assert_int_equal(known_load(&k, l, s.id), 0);
	assert_int_equal(k.n, 102);
	assert_false(known_find(&k, lacking)->flags & KNOWN_IN_FULL);
	assert_true(known_find(&k, keys_hash("default,K100"))->flags & KNOWN_IN_FULL);
	assert_int_equal(known_find(&k, keys_hash("default,K4"))->stamp, 200);
	assert_true(known_find(&k, keys_hash("default,K4"))->digest == 2);
	/* the daemon's upkeep folds them in (7 recent rows are past a sixteenth of 100) */
	assert_int_equal(keys_fold_idle(l), 1);
	assert_int_equal(number(l, "SELECT count(*) FROM keys_recent"), 0);
	assert_int_equal(number(l, "SELECT count(*) FROM keys"), 102);
	assert_int_equal(keys_fold_idle(l), 0);
	{
		struct known after;
		assert_int_equal(known_load(&after, l, s.id), 0);
		assert_same_table(&k, &after);
		known_release(&after);
	}
	known_release(&k);
	/* 60 more: past an eighth of the keys, the recent rows are folded in first */
	put_n(l, s.id, 200, 60, 400, 4, 0);
	assert_int_equal(number(l, "SELECT count(*) FROM keys_recent"), 0);
	assert_int_equal(number(l, "SELECT count(*) FROM keys"), 162);
	assert_int_equal(keys_get(l, s.id, keys_hash("default,K3"), got_entry, &se), 0);
	assert_string_equal(se.row, "default,K3,2,1");
	assert_int_equal(se.in_full, 0);
	assert_int_equal(keys_get(l, s.id, keys_hash("default,K4"), got_entry, &se), 0);
	assert_int_equal(se.in_full, 1);
	ledger_close(l);
}

/* one_put: key K<i> at stamp, through keys_put with proven; the generation it found */
static long long one_put(struct ledger *l, long long scope, int i, long long stamp,
			 long long proven)
{
	char key[32], row[32];
	struct key_entry e = {key, 0, 7, stamp, 0, "h", row};
	long long gen = -1;

	snprintf(key, sizeof(key), "default,K%d", i);
	snprintf(row, sizeof(row), "default,K%d,7,1", i);
	assert_int_equal(keys_put(l, scope, &e, 1, &gen, proven), 0);
	return gen;
}

static void test_a_write_the_kept_table_proves_goes_in_without_a_look_up(void **state)
{
	struct ledger *l = open_here();
	struct key_scope s;
	struct known k;
	struct key_entry newer = {"default,K1", 0, 9, 200, 0, "h", "default,K1,9,1"};
	struct key_entry older = newer;
	struct seen_entry se;
	long long proven, gen;

	(void)state;
	known_forget();
	assert_int_equal(keys_scope(l, "acme", "stock", "default", &s), 0);
	put_n(l, s.id, 0, 100, 100, 1, 1);
	assert_int_equal(known_take(&k, l, s.id, gen_of(l)), 0);
	known_keep(&k);
	/* a row newer than its key's entry: proven at the store's generation, and put */
	proven = known_proves(s.id, &newer, 1);
	assert_int_equal(proven, gen_of(l));
	assert_int_equal(keys_put(l, s.id, &newer, 1, &gen, proven), 0);
	known_stored(s.id, gen, &newer, 1);
	assert_int_equal(number(l, "SELECT count(*) FROM keys_recent"), 1);
	/* one older than its entry: no proof */
	older.key = "default,K50";
	older.stamp = 50;
	assert_int_equal(known_proves(s.id, &older, 1), -1);
	/* a proof of another generation than the store's is not used: looked up, left */
	one_put(l, s.id, 50, 50, gen_of(l) - 1);
	assert_int_equal(keys_get(l, s.id, keys_hash("default,K50"), got_entry, &se), 0);
	assert_int_equal(se.stamp, 100);
	/* one of the store's generation is trusted (so only the kept table gives one): the
	   older row goes in, which shows the look-up was left out */
	one_put(l, s.id, 60, 50, gen_of(l));
	assert_int_equal(keys_get(l, s.id, keys_hash("default,K60"), got_entry, &se), 0);
	assert_int_equal(se.stamp, 50);
	known_forget();
	ledger_close(l);
}

/* put_parse: batch 1 of name in dir as the parser child writes it: csv, lines, sums */
static void put_parse(const char *dir, const char *name, const char *csv, size_t rows)
{
	const struct entity *e = entity_find("stock_sources");
	struct batch_origin origin[8];
	struct batch_sum sum[8];
	struct row_layout lay;
	struct buf scratch = BUF_INIT(BUF_NOCAP);
	const char *at = strchr(csv, '\n') + 1;
	struct batch b = {1, csv, strlen(csv), rows, origin, sum};

	layout_init(&lay, e, views("source_code", "sku", "quantity", "status"), 4);
	for (size_t i = 0; i < rows; i++) {
		const char *end = strchr(at, '\n') + 1;
		char sku[16], qty[16];
		/* the test's rows: default,SKU,QTY,1 (a lying row's extra field left out) */
		assert_int_equal(sscanf(at, "default,%15[^,],%15[^,\n]", sku, qty), 2);
		origin[i] = (struct batch_origin){(uint32_t)i + 2, 0};
		sum[i] = (struct batch_sum){row_key_hash(&lay, views("default", sku, qty, "1"), &scratch),
					    row_digest(&lay, views("default", sku, qty, "1"), &scratch),
					    (uint32_t)(at - csv), (uint32_t)(end - at)};
		at = end;
	}
	assert_int_equal(parcel_put_batch(dir, name, &b, 1), 0);
	layout_release(&lay);
	buf_release(&scratch);
}

static void test_the_sift_copies_the_lines_it_sends_and_refuses_a_wrong_width(void **state)
{
	static const char ini[] = "[commerce]\nurl = https://shop.example.com\ntoken_file = /t\n"
				  "[feed s]\ndir = in\nentity = stock_sources\nmode = full\n"
				  "sequence = stock\ndiff = yes\n";
	static const char good[] = "source_code,sku,quantity,status\ndefault,A,1,1\n"
				   "default,\"B,2\",2,1\n";
	static const char lying[] = "source_code,sku,quantity,status\ndefault,C,3,1,9\n";
	struct ledger *l = open_here();
	struct buf err = BUF_INIT(BUF_NOCAP), sent = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(ini, &err);
	char *out1 = xasprintf("%s/out1", test_dir), *out2 = xasprintf("%s/out2", test_dir);
	char *path;
	struct sift s;

	(void)state;
	assert_non_null(c);
	known_forget();
	assert_int_equal(mkdir(out1, 0750), 0);
	assert_int_equal(mkdir(out2, 0750), 0);
	/* an empty store: every row sent, its line as the parse wrote it */
	put_parse(out1, "f.csv", good, 2);
	assert_int_equal(sift_prepare(&s, l, c, conf_feed(c, "s"), "acme", out1, "f.csv", 1, 100, 0,
				      &err),
			 0);
	assert_int_equal(s.t[0].n.sent, 2);
	path = parcel_batch_path(s.t[0].dir, "f.csv", 1);
	assert_int_equal(parsed_read(path, &sent, &err), 0);
	assert_string_equal(buf_cstr(&sent), good);
	free(path);
	sift_release(&s);
	/* a row wider than its header (a parser child that lies): nothing is sent */
	put_parse(out2, "g.csv", lying, 1);
	buf_reset(&err);
	assert_int_equal(sift_prepare(&s, l, c, conf_feed(c, "s"), "acme", out2, "g.csv", 1, 100, 0,
				      &err),
			 -1);
	assert_non_null(strstr(buf_cstr(&err), "has 5 fields, its header 4"));
	sift_release(&s);
	known_forget();
	free(out1);
	free(out2);
	conf_free(c);
	buf_release(&err);
	buf_release(&sent);
	ledger_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_the_sift_copies_the_lines_it_sends_and_refuses_a_wrong_width, tmpdir_setup,
		tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_write_the_kept_table_proves_goes_in_without_a_look_up, tmpdir_setup,
		tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_small_write_goes_to_the_recent_rows_and_every_reader_sees_it, tmpdir_setup,
		tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_a_kept_table_takes_the_stores_writes_and_is_read_again_after_one_it_missed,
		tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test(test_stamp_is_found_anywhere_in_the_name_as_utc),
	    cmocka_unit_test(test_digest_ignores_column_order_and_key_is_the_entitys),
	    cmocka_unit_test_setup_teardown(
		test_the_store_keeps_the_newest_and_a_snapshot_marks_what_it_held, tmpdir_setup,
		tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
