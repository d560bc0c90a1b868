#include "config.h"

#include <stdlib.h>

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "util/keyset.h"
#include "util/xalloc.h"

#define LOAD_NUM 85
#define LOAD_DEN 100

static uint64_t mix64(uint64_t x)
{
	/* The finaliser of splitmix64: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * tail: the last len (1 to 7) bytes at s as a word, as memcpy into a zeroed
 * word gives them, without the byte stores a memcpy of a variable length
 * makes: the load after them cannot be forwarded from them and stalls (it
 * was a quarter of hash64's time). whole: bytes of the input before s.
 */
static uint64_t tail(const unsigned char *s, size_t len, size_t whole)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w;

	if (whole >= 8 - len) { /* the 8 bytes ending at the end are the input's */
		memcpy(&w, s + len - 8, 8);
		return w >> (8 * (8 - len));
	}
	if (len >= 4) { /* two 4-byte loads that overlap in the middle */
		uint32_t lo, hi;
		memcpy(&lo, s, 4);
		memcpy(&hi, s + len - 4, 4);
		return (uint64_t)lo | (uint64_t)hi << (8 * (len - 4));
	}
	return (uint64_t)s[0] | (uint64_t)s[len / 2] << (8 * (len / 2)) |
	       (uint64_t)s[len - 1] << (8 * (len - 1));
#else
	uint64_t w = 0;

	(void)whole;
	memcpy(&w, s, len);
	return w;
#endif
}

uint64_t hash64(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
	uint64_t w;
	size_t whole = 0;

	while (len >= 8) {
		memcpy(&w, s, 8);
		h = (h ^ mix64(w)) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
		s += 8;
		len -= 8;
		whole += 8;
	}
	if (len)
		h = (h ^ mix64(tail(s, len, whole) ^ 0x5555555555555555ULL)) *
		    0x9e3779b97f4a7c15ULL;
	return mix64(h);
}

static size_t slot_of(uint64_t h, size_t cap)
{
	/* Lemire's multiply-shift range reduction: any table size, no modulo. */
	return (size_t)(((unsigned __int128)h * cap) >> 64);
}

#define HUGE_PAGE ((size_t)2 << 20)
#define MAPPED_FROM (2 * HUGE_PAGE)

static size_t round_huge(size_t bytes)
{
	return (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
}

/*
 * slots_new: n empty slots. From MAPPED_FROM bytes on, an anonymous mapping
 * aligned to 2 MiB and marked for huge pages (zero pages, touched lazily as
 * calloc's would be); malloc's memory when that is refused.
 */
static struct keyset_slot *slots_new(size_t n, int *mapped)
{
	size_t bytes = n * sizeof(struct keyset_slot);

	*mapped = 0;
	if (bytes >= MAPPED_FROM && n < (size_t)-1 / sizeof(struct keyset_slot) / 2) {
		size_t want = round_huge(bytes), len = want + HUGE_PAGE;
		char *p =
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			uintptr_t at = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
			char *a = (char *)at;
			if (a > p)
				munmap(p, (size_t)(a - p));
			if (a + want < p + len)
				munmap(a + want, (size_t)(p + len - (a + want)));
			madvise(a, want, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
			*mapped = 1;
			return (struct keyset_slot *)(void *)a;
		}
	}
	return xcalloc(n, sizeof(struct keyset_slot));
}

static void slots_free(struct keyset_slot *s, size_t n, int mapped)
{
	if (mapped)
		munmap(s, round_huge(n * sizeof(*s)));
	else
		free(s);
}

void keyset_init(struct keyset *ks)
{
	ks->slots = NULL;
	ks->cap = 0;
	ks->count = 0;
	ks->mapped = 0;
}

void keyset_release(struct keyset *ks)
{
	slots_free(ks->slots, ks->cap, ks->mapped);
	keyset_init(ks);
}

static void place(struct keyset_slot *slots, size_t cap, uint64_t h, uint32_t line)
{
	size_t i = slot_of(h, cap);

	while (slots[i].hash_lo | slots[i].hash_hi)
		if (++i == cap)
			i = 0;
	slots[i].hash_lo = (uint32_t)h;
	slots[i].hash_hi = (uint32_t)(h >> 32);
	slots[i].line = line;
}

static void rehash(struct keyset *ks, size_t newcap)
{
	struct keyset_slot *old = ks->slots;
	size_t oldcap = ks->cap;
	int old_mapped = ks->mapped;

	ks->slots = slots_new(newcap, &ks->mapped);
	ks->cap = newcap;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].hash_lo | old[i].hash_hi) {
			uint64_t h = ((uint64_t)old[i].hash_hi << 32) | old[i].hash_lo;
			place(ks->slots, newcap, h, old[i].line);
		}
	}
	if (old)
		slots_free(old, oldcap, old_mapped);
}

void keyset_reserve(struct keyset *ks, size_t n)
{
	size_t need = n / LOAD_NUM * LOAD_DEN + LOAD_DEN;

	if (need > ks->cap)
		rehash(ks, need);
}

uint64_t keyset_hash(const void *key, size_t len)
{
	uint64_t h = hash64(key, len);

	return h ? h : 1; /* 0 marks an empty slot */
}

void keyset_prefetch(const struct keyset *ks, uint64_t hash)
{
	if (ks->cap)
		__builtin_prefetch(&ks->slots[slot_of(hash, ks->cap)], 1);
}

uint32_t keyset_insert(struct keyset *ks, const void *key, size_t len, uint32_t line)
{
	return keyset_insert_hash(ks, keyset_hash(key, len), line);
}

uint32_t keyset_insert_hash(struct keyset *ks, uint64_t h, uint32_t line)
{
	uint32_t lo, hi;
	size_t i;

	if ((ks->count + 1) * LOAD_DEN > ks->cap * LOAD_NUM)
		rehash(ks, ks->cap < 64 ? 128 : ks->cap + ks->cap / 2);
	lo = (uint32_t)h;
	hi = (uint32_t)(h >> 32);
	i = slot_of(h, ks->cap);
	for (;;) {
		struct keyset_slot *s = &ks->slots[i];
		if (!(s->hash_lo | s->hash_hi)) {
			s->hash_lo = lo;
			s->hash_hi = hi;
			s->line = line;
			ks->count++;
			return 0;
		}
		if (s->hash_lo == lo && s->hash_hi == hi)
			return s->line;
		if (++i == ks->cap)
			i = 0;
	}
}

size_t keyset_bytes(const struct keyset *ks)
{
	return ks->cap * sizeof(*ks->slots);
}
