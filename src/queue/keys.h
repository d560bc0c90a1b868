/*
 * keys - the key store: per partner, sequence and target (a "scope"), each
 * key's stamp and the values Commerce last confirmed for it, in the ledger.
 *
 * A key is the entity's key columns as one CSV record ("default,SKU-1"); its
 * hash (keys_hash: of that text without case) is what the store is keyed by and
 * the sift compares in memory (two keys share a hash with odds near 2^-64 a
 * pair: the later one's entry replaces the earlier's). An entry holds the row Commerce confirmed
 * (its CSV header and record, the way it was sent), the digest of its value
 * columns and the stamp of the file it came from; in_full says whether the
 * scope's last full snapshot held the key, so that the snapshot's stamp
 * counts for it without rewriting a million unchanged entries:
 *
 *   stamp of a key = max(entry.stamp, entry.in_full ? scope.full_stamp : 0),
 *                    and at least scope.complete_stamp for every key,
 *                    known or not (a full snapshot with absent.* speaks for
 *                    every key at its stamp).
 *
 * Entries change only when Commerce confirmed their row (keys_put), never
 * for a row it refused. Every write is one transaction that first moves the
 * scope's generation (on PostgreSQL its row lock orders the writers of a
 * scope, on every node); a failed one marks the ledger failed, as any ledger
 * write. A night's rows go to keys_recent while it is small beside the keys,
 * folded in later (keys_put, keys_fold_idle); readers see both (keys_now).
 */
#ifndef DG_KEYS_H
#define DG_KEYS_H

#include <stddef.h>
#include <stdint.h>

struct ledger;

struct key_scope {
	long long id;
	long long full_stamp;	  /* the last full snapshot's stamp (0: none) */
	long long complete_stamp; /* the last full snapshot with absent.*: its stamp */
	long long gen;		  /* bumped by every write to the scope's entries */
};

/* keys_scope: the scope of partner, sequence and target, made when new. 0 or -1. */
int keys_scope(struct ledger *l, const char *partner, const char *sequence, const char *target,
	       struct key_scope *s);

/* What the sift needs of an entry, in memory. */
struct key_brief {
	uint64_t khash, digest;
	long long stamp;
	int in_full;
};
/* keys_load: every entry of the scope, by hash (unsigned, ascending), to fn (its nonzero
   return stops). */
int keys_load(struct ledger *l, long long scope, int (*fn)(void *ctx, const struct key_brief *b),
	      void *ctx);
/* keys_count: entries in the scope. */
long long keys_count(struct ledger *l, long long scope);

/* A whole entry. */
struct key_entry {
	const char *key;    /* the key columns' values as one CSV record */
	uint64_t khash;     /* keys_hash(key); 0: keys_put computes it */
	uint64_t digest;    /* of the value columns */
	long long stamp;
	int in_full;
	const char *header; /* the CSV header of the row as sent */
	const char *row;    /* the CSV record as sent */
};
/*
 * keys_put: n confirmed rows, one transaction. An entry whose stored stamp is
 * newer than the row's is left as it is (a later file's row was confirmed
 * first). Rows in hash order touch the store's pages in order: a caller with
 * many sorts them first (keys_hash). gen_before (NULL: not wanted) gets the
 * scope's generation as this write found it (it leaves it one higher): a copy
 * of the scope kept in memory at that generation can take the same change.
 * proven: the generation at which such a copy showed no row of e older than
 * its key's entry (sift/known.h: known_proves), or -1; when the store is still
 * there, rows go in without looking up each key's stored stamp first.
 * 0 or -1.
 */
int keys_put(struct ledger *l, long long scope, const struct key_entry *e, size_t n,
	     long long *gen_before, long long proven);
/* keys_hash: the hash a key's text is stored under: of its text with ASCII letters in
   lower case, as Commerce compares keys (0 never: 1 instead) */
uint64_t keys_hash(const char *key);
/*
 * keys_fold_idle: a scope whose recent rows (keys_put) have grown past half
 * the share at which a write folds them in itself is folded now, by the
 * daemon's upkeep between files: a night's file never waits for it. One scope
 * a call. 1 folded, 0 none due, -1 on error.
 */
int keys_fold_idle(struct ledger *l);
/* keys_each: the scope's entries in key order to fn (its nonzero return stops). */
int keys_each(struct ledger *l, long long scope, int (*fn)(void *ctx, const struct key_entry *e),
	      void *ctx);
/* keys_get: one entry by its key's hash: 0 with fn called, 1 when none, -1 on error. */
int keys_get(struct ledger *l, long long scope, uint64_t khash,
	     void (*fn)(void *ctx, const struct key_entry *e), void *ctx);

/*
 * keys_full_done: a full snapshot stamped stamp is through: the scope's
 * full_stamp becomes stamp (complete_stamp too when complete); the n keys
 * listed in lacking (hashes) are marked not held by it, every other key
 * held. One transaction. gen_before as keys_put's. 1 when the marks were
 * written, 0 when a newer snapshot is already through (its marks stay), -1.
 */
int keys_full_done(struct ledger *l, long long scope, long long stamp, int complete,
		   const uint64_t *lacking, size_t n, long long *gen_before);

/*
 * A file's rows per target as the sift and Commerce left them: sent,
 * unchanged, superseded, absent (sent with the absent.* values), rejected.
 */
enum { KC_SENT, KC_UNCHANGED, KC_SUPERSEDED, KC_ABSENT, KC_REJECTED, KC_N };
extern const char *const keys_count_names[KC_N]; /* "sent", ... */
int keys_counts_set(struct ledger *l, long long file_id, const char *target,
		    const long long n[KC_N]);
/* keys_counts_each: a file's counts by target, in target order, to fn. */
int keys_counts_each(struct ledger *l, long long file_id,
		     void (*fn)(void *ctx, const char *target, const long long n[KC_N]), void *ctx);

/* keys_stamp_of: a key's stamp as the header explains (b NULL: a key not stored). */
static inline long long keys_stamp_of(const struct key_scope *s, const struct key_brief *b)
{
	long long t = s->complete_stamp;

	if (b && b->stamp > t)
		t = b->stamp;
	if (b && b->in_full && s->full_stamp > t)
		t = s->full_stamp;
	return t;
}

#endif
