/*
 * known - a scope of the key store in memory, for one file's sift: each key's
 * hash, digest, stamp and marks, 24 bytes a key, sorted by hash with an index
 * of where each hash prefix starts (one or two cache misses a look-up).
 *
 * Two stored keys with one hash (odds near 2^-64 a pair) are both marked
 * twin: a row with that hash is sent, whatever the store says.
 *
 * A table outlives its file: kept in the daemon's memory (at most
 * KNOWN_KEEP_KEYS keys in all, the least recently used scope goes first), it
 * takes the store's writes as they are made (known_stored, known_marked) and
 * is used again when the scope's generation in the store is still the one it
 * has: the next night's sift of a million keys reads nothing from the store.
 * Any write it did not see (`dropgate baseline`, another process) moves the
 * generation on, and the table is read again.
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
	long long scope, gen; /* whose, and the store's generation it matches */
};

struct key_entry;

/* KNOWN_KEEP_KEYS: the keys kept between files, in all scopes (24 bytes each) */
#define KNOWN_KEEP_KEYS (4u << 20)

/* known_load: the scope's entries, read from the store. 0 or -1 (the ledger failed). */
int known_load(struct known *k, struct ledger *l, long long scope);
/* known_take: the scope's entries at the store's generation gen (keys_scope's): the
   kept table when it is at gen, else known_load's. 0 or -1. */
int known_take(struct known *k, struct ledger *l, long long scope, long long gen);
/* known_keep: a taken table kept for the next file (this file's marks cleared); k is
   empty after. */
void known_keep(struct known *k);
/* known_stored: keys_put's n rows, written at generation gen_before, applied to the
   scope's kept table (dropped when it is not at gen_before). */
void known_stored(long long scope, long long gen_before, const struct key_entry *e, size_t n);
/* known_proves: the generation of the scope's kept table when it shows no row of e older
   than its key's entry (a write of e at that generation needs no look-up: keys_put's
   proven), else -1. */
long long known_proves(long long scope, const struct key_entry *e, size_t n);
/* known_marked: keys_full_done's marks (marked: its return), as known_stored. */
void known_marked(long long scope, long long gen_before, int marked, const uint64_t *lacking,
		  size_t n);
/* known_reads: how many tables known_take has read from the store (not kept ones). */
unsigned long known_reads(void);
/* known_forget: every kept table dropped (tests; a daemon's stop). */
void known_forget(void);
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
