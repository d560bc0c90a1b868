/*
 * keyset - the duplicate-key index: remembers which keys a file has shown,
 * and on which line, in 12 bytes a slot.
 *
 * A key is stored as its 64-bit hash, never as its bytes, so memory does not
 * grow with key length: two distinct keys share a hash with odds near 2^-64 a
 * pair (about 1 in 400,000 for a 10-million-row file), in which case the later
 * row is reported as a duplicate of the earlier one. The table is open
 * addressing with linear probing, kept at most 85 % full; keyset_reserve lets a
 * caller that can estimate the key count size it once, so that no rehash (and
 * no second table in memory) happens on the way. A large table (4 MiB and
 * up) is a mapping of its own, in 2 MiB pages where the kernel has them
 * (transparent huge pages on request): its random probes then miss the TLB
 * far less, and it faults in 2 MiB at a time.
 */
#ifndef DG_KEYSET_H
#define DG_KEYSET_H

#include <stddef.h>
#include <stdint.h>

struct keyset_slot {
	uint32_t hash_lo, hash_hi; /* 0,0: empty */
	uint32_t line;
};

struct keyset {
	struct keyset_slot *slots;
	size_t cap;   /* slots */
	size_t count; /* keys stored */
	int mapped;   /* slots are a mapping of their own (large tables), not malloc's */
};

#define KEYSET_INIT { NULL, 0, 0, 0 }

void keyset_init(struct keyset *ks);
void keyset_release(struct keyset *ks);
/* keyset_reserve: room for n keys without rehashing. */
void keyset_reserve(struct keyset *ks, size_t n);
/*
 * keyset_insert: remember key as seen on line. Returns 0 for a new key, or the
 * line on which it was seen first (lines start at 1).
 */
uint32_t keyset_insert(struct keyset *ks, const void *key, size_t len, uint32_t line);
/*
 * The same in two steps, so that a caller can hide the cache miss: hash the
 * key and prefetch its slot early, insert the hash a little later.
 */
uint64_t keyset_hash(const void *key, size_t len);
void keyset_prefetch(const struct keyset *ks, uint64_t hash);
uint32_t keyset_insert_hash(struct keyset *ks, uint64_t hash, uint32_t line);
/* keyset_bytes: memory held by the table. */
size_t keyset_bytes(const struct keyset *ks);
/* hash64: the hash keyset uses, for callers that want the same. */
uint64_t hash64(const void *p, size_t len);

#endif
