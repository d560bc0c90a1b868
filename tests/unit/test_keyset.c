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

/* the word-by-word definition (a zeroed word for the tail), as the key store's digests
   were made: hash64's own tail loads must give the same */
static uint64_t ref_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t ref_hash64(const unsigned char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL), w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ ref_mix64(w)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	if (len) {
		w = 0;
		memcpy(&w, s, len);
		h = (h ^ ref_mix64(w ^ 0x5555555555555555ULL)) * 0x9e3779b97f4a7c15ULL;
	}
	return ref_mix64(h);
}

static void test_hash_is_the_stores_definition(void **state)
{
	unsigned char buf[96];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	/* every length at every alignment, the tails' three ways among them */
	for (size_t at = 0; at < 8; at++)
		for (size_t len = 0; at + len <= 80; len++)
			assert_true(hash64(buf + at, len) == ref_hash64(buf + at, len));
	/* values the store holds (tests/integration/test_stock.py computes the same) */
	assert_true(hash64("", 0) == 0xe220a8397b1dcdafULL);
	assert_true(hash64("a", 1) == 0xec4004356f1be3d9ULL);
	assert_true(hash64("abc", 3) == 0x1693a6bb87380a40ULL);
	assert_true(hash64("SKU-1", 5) == 0x535e2feb7f889b18ULL);
	assert_true(hash64("default,sku-000123", 18) == 0x34119845c813c856ULL);
	assert_true(hash64("quantity=1321\x1fstatus=1", 22) == 0x873d0571caaaa6f2ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_sighting_then_earlier_line),
		cmocka_unit_test(test_many_keys_grow_without_loss),
		cmocka_unit_test(test_reserved_index_stays_within_16_bytes_a_key),
		cmocka_unit_test(test_large_tables_are_mapped_and_keep_their_keys),
		cmocka_unit_test(test_hash_spreads_similar_keys),
		cmocka_unit_test(test_hash_is_the_stores_definition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
