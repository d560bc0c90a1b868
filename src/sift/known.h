/*
 * known - a scope of the key store in memory, for one file's sift: each key's
 * hash, digest, stamp and marks, 24 bytes a key, sorted by hash with an index
 * of where each hash prefix starts (one or two cache misses a look-up).
 *
 * Two stored keys with one hash (odds near 2^-64 a pair) are both marked
 * twin: a row with that hash is sent, whatever the store says.
 */
#ifndef DG_KNOWN_H
#define DG_KNOWN_H

#include <stddef.h>
#include <stdint.h>

struct ledger;

#define KNOWN_IN_FULL 0x1 /* held by the scope's last full snapshot */
#define KNOWN_SEEN 0x2	  /* the file being sifted has a row for it */
#define KNOWN_TWIN 0x4	  /* another stored key has the same hash */

struct known_entry {
	uint64_t khash, digest;
	uint32_t stamp; /* seconds since 1970, UTC */
	uint32_t flags;
};

struct known {
	struct known_entry *v;
	size_t n, cap;
	uint32_t *start; /* (1 << bits) + 1 entries */
	unsigned bits;
};

/* known_load: the scope's entries. 0 or -1 (the ledger failed). */
int known_load(struct known *k, struct ledger *l, long long scope);
/* known_prefetch: ask for the cache lines a look-up of khash reads, in two steps
   (the index's, then, once that is in, the entry's): a caller a few rows ahead
   hides both misses. */
void known_prefetch_index(const struct known *k, uint64_t khash);
void known_prefetch_entry(const struct known *k, uint64_t khash);
/* known_find: the entry of a hash, or NULL. */
struct known_entry *known_find(const struct known *k, uint64_t khash);
void known_release(struct known *k);
/* known_stamp: an entry's stamp for keys_stamp_of (struct key_brief). */
long long known_stamp_of(long long full_stamp, long long complete_stamp,
			 const struct known_entry *e);

#endif
