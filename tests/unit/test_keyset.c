#include "config.h"

#include "testutil.h"
#include "util/keyset.h"

static void test_first_sighting_then_earlier_line(void **state)
{
	struct keyset ks = KEYSET_INIT;

	(void)state;
	assert_int_equal(keyset_insert(&ks, "default\x1f" "AB-1", 12, 2), 0);
	assert_int_equal(keyset_insert(&ks, "default\x1f" "AB-2", 12, 3), 0);
	assert_int_equal(keyset_insert(&ks, "default\x1f" "AB-1", 12, 7), 2);
	/* a key that is a prefix of another is still another key */
	assert_int_equal(keyset_insert(&ks, "default\x1f" "AB-", 11, 8), 0);
	assert_int_equal(ks.count, 3);
	keyset_release(&ks);
}

static void test_many_keys_grow_without_loss(void **state)
{
	struct keyset ks = KEYSET_INIT;
	char key[32];

	(void)state;
	for (uint32_t i = 1; i <= 100000; i++) {
		int n = snprintf(key, sizeof(key), "SKU-%u", i);
		assert_int_equal(keyset_insert(&ks, key, (size_t)n, i), 0);
	}
	for (uint32_t i = 1; i <= 100000; i += 997) {
		int n = snprintf(key, sizeof(key), "SKU-%u", i);
		assert_int_equal(keyset_insert(&ks, key, (size_t)n, 999999), i);
	}
	assert_int_equal(ks.count, 100000);
	keyset_release(&ks);
}

static void test_reserved_index_stays_within_16_bytes_a_key(void **state)
{
	struct keyset ks = KEYSET_INIT;
	char key[32];
	size_t cap;

	(void)state;
	keyset_reserve(&ks, 50000);
	cap = ks.cap;
	for (uint32_t i = 1; i <= 50000; i++) {
		int n = snprintf(key, sizeof(key), "%u", i);
		keyset_insert(&ks, key, (size_t)n, i);
	}
	assert_int_equal(ks.cap, cap); /* no rehash on the way */
	assert_true(keyset_bytes(&ks) <= 16 * 50000 + 16 * 100);
	keyset_release(&ks);
}

static void test_large_tables_are_mapped_and_keep_their_keys(void **state)
{
	struct keyset ks = KEYSET_INIT;
	char key[32];

	(void)state;
	/* small: malloc's; from 4 MiB a mapping of its own, 2 MiB aligned, also when
	   grown by rehash from one mapping into another */
	keyset_reserve(&ks, 1000);
	assert_false(ks.mapped);
	for (uint32_t i = 1; i <= 600000; i++) {
		int n = snprintf(key, sizeof(key), "SKU-%u", i);
		assert_int_equal(keyset_insert(&ks, key, (size_t)n, i), 0);
		if (i == 300000) {
			assert_true(ks.mapped);
			assert_int_equal((uintptr_t)ks.slots % (2u << 20), 0);
		}
	}
	assert_true(ks.mapped);
	for (uint32_t i = 1; i <= 600000; i += 9973) {
		int n = snprintf(key, sizeof(key), "SKU-%u", i);
		assert_int_equal(keyset_insert(&ks, key, (size_t)n, 999999), i);
	}
	keyset_release(&ks);
	assert_null(ks.slots);
	assert_false(ks.mapped);
}

static void test_hash_spreads_similar_keys(void **state)
{
	(void)state;
	assert_true(hash64("AB-1", 4) != hash64("AB-2", 4));
	assert_true(hash64("", 0) != hash64("\0", 1));
	assert_true(hash64("12345678", 8) != hash64("123456789", 9));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sighting_then_earlier_line),
		cmocka_unit_test(test_many_keys_grow_without_loss),
		cmocka_unit_test(test_reserved_index_stays_within_16_bytes_a_key),
		cmocka_unit_test(test_large_tables_are_mapped_and_keep_their_keys),
		cmocka_unit_test(test_hash_spreads_similar_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
