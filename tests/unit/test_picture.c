#include "config.h"

#include "queue/keys.h"
#include "queue/ledger.h"
#include "queue/picture.h"
#include "testledger.h"
#include "testutil.h"

#define HEADER "source_code,sku,quantity,status"

static long long scope(struct ledger *l, const char *partner, const char *sequence,
		       const char *target)
{
	struct key_scope s;

	assert_int_equal(keys_scope(l, partner, sequence, target, &s), 0);
	return s.id;
}

static void put(struct ledger *l, long long sc, const char *key, const char *row, long long stamp)
{
	struct key_entry e = {
	    .key = key, .digest = 1, .stamp = stamp, .header = HEADER, .row = row};

	assert_int_equal(keys_put(l, sc, &e, 1, NULL, -1), 0);
}

/* what picture_each gave: "key=row@stamp/partner;" */
static int collect(void *ctx, const struct picture_entry *e)
{
	struct buf *out = ctx;

	buf_printf(out, "%s=%s@%lld/%s;", e->key, e->row, e->stamp, e->partner);
	return 0;
}

static int count_header(void *ctx, const char *header)
{
	assert_string_equal(header, HEADER);
	(*(int *)ctx)++;
	return 0;
}

static const char *picture(struct ledger *l, const char *sequence, const char *target,
			   struct buf *out)
{
	buf_reset(out);
	assert_int_equal(picture_each(l, sequence, target, collect, out), 0);
	return buf_cstr(out);
}

static void test_the_newest_stamp_wins_each_key_across_partners(void **state)
{
	struct ledger *l = open_here();
	struct buf out = BUF_INIT(BUF_NOCAP);
	long long a = scope(l, "acme", "stock", "default"),
		  b = scope(l, "beta", "stock", "default");
	int headers = 0;

	(void)state;
	put(l, a, "default,A", "default,A,1,1", 100);
	put(l, b, "default,A", "default,A,2,1", 200); /* newer: beta's */
	put(l, a, "default,B", "default,B,3,1", 300); /* newer: acme's */
	put(l, b, "default,B", "default,B,4,1", 200);
	put(l, a, "default,C", "default,C,5,1", 50); /* a tie: the partner named first */
	put(l, b, "default,C", "default,C,6,1", 50);
	put(l, b, "default,D", "default,D,7,1", 0); /* one scope only */
	/* neither another sequence nor another target */
	put(l, scope(l, "acme", "prices", "default"), "default,A", "x", 999);
	put(l, scope(l, "acme", "stock", "eu"), "default,A", "y", 999);
	assert_string_equal(picture(l, "stock", "default", &out),
			    "default,A=default,A,2,1@200/beta;"
			    "default,B=default,B,3,1@300/acme;"
			    "default,C=default,C,5,1@50/acme;"
			    "default,D=default,D,7,1@0/beta;");
	assert_string_equal(picture(l, "stock", "eu", &out), "default,A=y@999/acme;");
	assert_string_equal(picture(l, "nosuch", "default", &out), "");
	assert_int_equal(picture_headers(l, "stock", "default", count_header, &headers), 0);
	assert_int_equal(headers, 1);
	buf_release(&out);
	ledger_close(l);
}

/* A key a full snapshot held counts at the snapshot's stamp (keys.h), without its entry
   being rewritten: the picture says when its values were last true. */
static void test_a_full_snapshot_stamps_the_keys_it_held(void **state)
{
	struct ledger *l = open_here();
	struct buf out = BUF_INIT(BUF_NOCAP);
	long long a = scope(l, "acme", "stock", "default"),
		  b = scope(l, "beta", "stock", "default");
	uint64_t lacking;

	(void)state;
	put(l, a, "default,A", "default,A,1,1", 100);
	put(l, a, "default,B", "default,B,2,1", 100);
	put(l, b, "default,A", "default,A,9,1", 150);
	lacking = keys_hash("default,B");
	assert_int_equal(keys_full_done(l, a, 400, 0, &lacking, 1, NULL), 1);
	assert_string_equal(picture(l, "stock", "default", &out),
			    "default,A=default,A,1,1@400/acme;" /* held by acme's snapshot at 400 */
			    "default,B=default,B,2,1@100/acme;");
	buf_release(&out);
	ledger_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_the_newest_stamp_wins_each_key_across_partners,
					    tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_a_full_snapshot_stamps_the_keys_it_held,
					    tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
