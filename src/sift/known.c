#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "queue/keys.h"
#include "sift/known.h"
#include "util/xalloc.h"

/*
 * The tables are mappings of their own, not the heap's: a table grows by
 * mremap (its pages move, nothing is copied: a million keys never stand in
 * memory twice), huge pages where the kernel has them (a look-up at random in
 * a million keys is one cache miss, not a page walk too), and left out of a
 * fork (the parser's child never reads them and would count them as its own).
 */
static size_t table_bytes(size_t n, size_t size)
{
	size_t bytes = (n ? n : 1) * size;

	return (bytes + 4095) & ~(size_t)4095;
}

static void table_advise(void *p, size_t bytes)
{
	if (bytes >= (2u << 20))
		madvise(p, bytes, MADV_HUGEPAGE);
	madvise(p, bytes, MADV_DONTFORK);
}

static void table_fail(void)
{
	fputs("out of memory\n", stderr);
	abort();
}

static void *table_alloc(size_t n, size_t size)
{
	size_t bytes = table_bytes(n, size);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		table_fail();
	table_advise(p, bytes);
	return p;
}

static void *table_grow(void *p, size_t n, size_t to, size_t size)
{
	size_t from_bytes = table_bytes(n, size), to_bytes = table_bytes(to, size);

	if (p == NULL)
		return table_alloc(to, size);
	if (to_bytes == from_bytes)
		return p;
	p = mremap(p, from_bytes, to_bytes, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		table_fail();
	table_advise(p, to_bytes);
	return p;
}

static void table_free(void *p, size_t n, size_t size)
{
	if (p)
		munmap(p, table_bytes(n, size));
}

static int add(void *ctx, const struct key_brief *b)
{
	struct known *k = ctx;
	struct known_entry *e;

	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		k->v = table_grow(k->v, k->cap, cap, sizeof(*k->v));
		k->cap = cap;
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

/* index_build: where each hash prefix starts, about one key a bucket */
static void index_build(struct known *k)
{
	size_t buckets;

	if (k->start)
		table_free(k->start, ((size_t)1 << k->bits) + 1, sizeof(*k->start));
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
}

int known_load(struct known *k, struct ledger *l, long long scope)
{
	long long count = keys_count(l, scope);

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
	k->scope = scope;
	index_build(k);
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
	table_free(k->v, k->cap, sizeof(*k->v));
	if (k->start)
		table_free(k->start, ((size_t)1 << k->bits) + 1, sizeof(*k->start));
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

/*
 * The kept tables: a few slots under one lock. A table is in a slot or in one
 * sift's hands (the files of a scope are sifted one at a time: ledger lanes),
 * never both.
 */
#define SLOTS 8

static struct slot {
	struct known k;
	int held;	    /* k is a kept table (of no keys, maybe) */
	unsigned long used; /* when last kept: the least recent goes first */
} slots[SLOTS];
static unsigned long clock_now, reads;
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static struct slot *slot_of(long long scope)
{
	for (size_t i = 0; i < SLOTS; i++)
		if (slots[i].held && slots[i].k.scope == scope)
			return &slots[i];
	return NULL;
}

static void slot_drop(struct slot *sl)
{
	known_release(&sl->k);
	sl->used = 0;
	sl->held = 0;
}

int known_take(struct known *k, struct ledger *l, long long scope, long long gen)
{
	struct slot *sl;

	pthread_mutex_lock(&slots_lock);
	sl = slot_of(scope);
	if (sl && sl->k.gen == gen) {
		*k = sl->k;
		memset(&sl->k, 0, sizeof(sl->k));
		sl->used = 0;
		sl->held = 0;
		pthread_mutex_unlock(&slots_lock);
		return 0;
	}
	if (sl)
		slot_drop(sl);
	reads++;
	pthread_mutex_unlock(&slots_lock);
	if (known_load(k, l, scope) < 0)
		return -1;
	k->gen = gen;
	return 0;
}

void known_keep(struct known *k)
{
	size_t total = k->n;
	struct slot *free_slot = NULL;

	for (size_t i = 0; i < k->n; i++)
		k->v[i].flags &= ~(uint32_t)KNOWN_SEEN;
	if (k->start == NULL || k->n > KNOWN_KEEP_KEYS) {
		known_release(k);
		return;
	}
	pthread_mutex_lock(&slots_lock);
	if (slot_of(k->scope))
		slot_drop(slot_of(k->scope));
	for (size_t i = 0; i < SLOTS; i++)
		total += slots[i].k.n;
	/* room: the least recently kept go until this one fits */
	for (;;) {
		struct slot *oldest = NULL;
		for (size_t i = 0; i < SLOTS; i++) {
			if (!slots[i].held)
				free_slot = free_slot ? free_slot : &slots[i];
			else if (oldest == NULL || slots[i].used < oldest->used)
				oldest = &slots[i];
		}
		if (free_slot && total <= KNOWN_KEEP_KEYS)
			break;
		total -= oldest->k.n;
		slot_drop(oldest);
	}
	free_slot->k = *k;
	free_slot->held = 1;
	free_slot->used = ++clock_now;
	memset(k, 0, sizeof(*k));
	pthread_mutex_unlock(&slots_lock);
}

static uint32_t stamp32(long long stamp)
{
	return stamp <= 0 ? 0 : stamp > UINT32_MAX ? UINT32_MAX : (uint32_t)stamp;
}

/* put: one confirmed row, as keys_put's upsert writes it; a new key to fresh (room
   for every row) */
static void put(struct known *k, const struct key_entry *e, struct known_entry *fresh,
		size_t *nfresh)
{
	uint64_t khash = e->khash ? e->khash : keys_hash(e->key);
	struct known_entry *ke = known_find(k, khash);

	if (ke == NULL) {
		ke = &fresh[(*nfresh)++];
		ke->khash = khash;
		ke->stamp = 0;
		ke->flags = 0;
	} else if (stamp32(e->stamp) < ke->stamp) {
		return; /* a later file's row was confirmed first */
	}
	ke->digest = e->digest;
	ke->stamp = stamp32(e->stamp);
	ke->flags |= e->in_full ? KNOWN_IN_FULL : 0;
}

/* dedupe: one entry a hash among the new keys (sorted), the newest stamp's */
static size_t dedupe(struct known_entry *fresh, size_t m)
{
	size_t o = 0;

	for (size_t i = 0; i < m; i++) {
		if (o && fresh[o - 1].khash == fresh[i].khash) {
			if (fresh[i].stamp >= fresh[o - 1].stamp)
				fresh[o - 1] = fresh[i];
			continue;
		}
		fresh[o++] = fresh[i];
	}
	return o;
}

/* merge: the new keys (sorted) into the table, from its end backwards, in place */
static void merge(struct known *k, struct known_entry *fresh, size_t m)
{
	size_t i = k->n, j = m, o = k->n + m;

	if (m == 0)
		return;
	if (o > k->cap) {
		size_t cap = o + o / 2;
		k->v = table_grow(k->v, k->cap, cap, sizeof(*k->v));
		k->cap = cap;
	}
	while (j > 0) {
		if (i > 0 && k->v[i - 1].khash > fresh[j - 1].khash)
			k->v[--o] = k->v[--i];
		else
			k->v[--o] = fresh[--j];
	}
	k->n += m;
	index_build(k);
}

void known_stored(long long scope, long long gen_before, const struct key_entry *e, size_t n)
{
	struct slot *sl;
	struct known_entry *fresh = NULL;
	size_t m = 0;

	pthread_mutex_lock(&slots_lock);
	sl = slot_of(scope);
	if (sl && sl->k.gen != gen_before)
		slot_drop(sl); /* a write it did not see came between */
	else if (sl) {
		fresh = xreallocarray(NULL, n ? n : 1, sizeof(*fresh));
		for (size_t i = 0; i < n; i++)
			put(&sl->k, &e[i], fresh, &m);
		qsort(fresh, m, sizeof(*fresh), by_hash);
		m = dedupe(fresh, m);
		merge(&sl->k, fresh, m);
		sl->k.gen = gen_before + 1;
		if (sl->k.n > KNOWN_KEEP_KEYS)
			slot_drop(sl);
	}
	pthread_mutex_unlock(&slots_lock);
	free(fresh);
}

long long known_proves(long long scope, const struct key_entry *e, size_t n)
{
	struct slot *sl;
	long long gen = -1;

	pthread_mutex_lock(&slots_lock);
	sl = slot_of(scope);
	for (size_t i = 0; sl && i <= n; i++) {
		const struct known_entry *ke;
		if (i == n) {
			gen = sl->k.gen;
			break;
		}
		if (e[i].stamp < 0 || e[i].stamp >= UINT32_MAX)
			break; /* not a stamp the table can tell apart */
		ke = known_find(&sl->k, e[i].khash ? e[i].khash : keys_hash(e[i].key));
		if (ke && ((ke->flags & KNOWN_TWIN) || ke->stamp > (uint32_t)e[i].stamp))
			break;
	}
	pthread_mutex_unlock(&slots_lock);
	return gen;
}

void known_marked(long long scope, long long gen_before, int marked, const uint64_t *lacking,
		  size_t n)
{
	struct slot *sl;

	pthread_mutex_lock(&slots_lock);
	sl = slot_of(scope);
	if (sl && (sl->k.gen != gen_before || marked < 0))
		slot_drop(sl);
	else if (sl) {
		for (size_t i = 0; marked && i < sl->k.n; i++)
			sl->k.v[i].flags |= KNOWN_IN_FULL;
		for (size_t i = 0; marked && i < n; i++) {
			struct known_entry *ke = known_find(&sl->k, lacking[i]);
			if (ke)
				ke->flags &= ~(uint32_t)KNOWN_IN_FULL;
		}
		sl->k.gen = gen_before + 1;
	}
	pthread_mutex_unlock(&slots_lock);
}

unsigned long known_reads(void)
{
	unsigned long n;

	pthread_mutex_lock(&slots_lock);
	n = reads;
	pthread_mutex_unlock(&slots_lock);
	return n;
}

void known_forget(void)
{
	pthread_mutex_lock(&slots_lock);
	for (size_t i = 0; i < SLOTS; i++)
		slot_drop(&slots[i]);
	pthread_mutex_unlock(&slots_lock);
}
