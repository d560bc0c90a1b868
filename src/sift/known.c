#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "queue/keys.h"
#include "sift/known.h"
#include "util/xalloc.h"

static int add(void *ctx, const struct key_brief *b)
{
	struct known *k = ctx;
	struct known_entry *e;

	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 1024;
		k->v = xreallocarray(k->v, k->cap, sizeof(*k->v));
	}
	e = &k->v[k->n++];
	e->khash = b->khash;
	e->digest = b->digest;
	e->stamp = b->stamp <= 0 ? 0 : b->stamp > UINT32_MAX ? UINT32_MAX : (uint32_t)b->stamp;
	e->flags = b->in_full ? KNOWN_IN_FULL : 0;
	return 0;
}

static int by_hash(const void *a, const void *b)
{
	uint64_t x = ((const struct known_entry *)a)->khash;
	uint64_t y = ((const struct known_entry *)b)->khash;

	return x < y ? -1 : x > y;
}

/* table_alloc: n entries; in huge pages when large (one TLB entry per 2 MB: a look-up
   at random in a million keys is a cache miss, not a page walk too) */
static void *table_alloc(size_t n, size_t size)
{
	size_t bytes = n * size, huge = 2u << 20;
	void *p;

	if (bytes < huge)
		return xreallocarray(NULL, n ? n : 1, size);
	bytes = (bytes + huge - 1) / huge * huge;
	if (posix_memalign(&p, huge, bytes) != 0)
		return xreallocarray(NULL, n, size); /* dies on out-of-memory */
	madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

int known_load(struct known *k, struct ledger *l, long long scope)
{
	long long count = keys_count(l, scope);
	size_t buckets;

	memset(k, 0, sizeof(*k));
	if (count > 0) {
		k->cap = (size_t)count;
		k->v = table_alloc(k->cap, sizeof(*k->v));
	}
	if (keys_load(l, scope, add, k) < 0)
		return -1;
	/* keys_load hands them out sorted (no sort, no second table in memory); checked,
	   so that a backend that does not cannot break the look-ups */
	for (size_t i = 1; i < k->n; i++)
		if (k->v[i].khash < k->v[i - 1].khash) {
			qsort(k->v, k->n, sizeof(*k->v), by_hash);
			break;
		}
	for (size_t i = 1; i < k->n; i++)
		if (k->v[i].khash == k->v[i - 1].khash) {
			k->v[i].flags |= KNOWN_TWIN;
			k->v[i - 1].flags |= KNOWN_TWIN;
		}
	/* about one key a bucket */
	k->bits = 1;
	while ((1ULL << k->bits) < k->n && k->bits < 30)
		k->bits++;
	buckets = (size_t)1 << k->bits;
	k->start = table_alloc(buckets + 1, sizeof(*k->start));
	for (size_t i = 0, b = 0; b <= buckets; b++) {
		while (i < k->n && (k->v[i].khash >> (64 - k->bits)) < b)
			i++;
		k->start[b] = (uint32_t)i;
	}
	return 0;
}

void known_prefetch_index(const struct known *k, uint64_t khash)
{
	if (k->n)
		__builtin_prefetch(&k->start[khash >> (64 - k->bits)]);
}

void known_prefetch_entry(const struct known *k, uint64_t khash)
{
	if (k->n)
		__builtin_prefetch(&k->v[k->start[khash >> (64 - k->bits)]]);
}

struct known_entry *known_find(const struct known *k, uint64_t khash)
{
	size_t b;

	if (k->n == 0)
		return NULL;
	b = (size_t)(khash >> (64 - k->bits));
	for (uint32_t i = k->start[b]; i < k->start[b + 1]; i++)
		if (k->v[i].khash == khash)
			return &k->v[i];
	return NULL;
}

void known_release(struct known *k)
{
	free(k->v);
	free(k->start);
	memset(k, 0, sizeof(*k));
}

long long known_stamp_of(long long full_stamp, long long complete_stamp,
			 const struct known_entry *e)
{
	long long t = complete_stamp;

	if (e && e->stamp > t)
		t = e->stamp;
	if (e && (e->flags & KNOWN_IN_FULL) && full_stamp > t)
		t = full_stamp;
	return t;
}
