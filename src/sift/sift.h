/*
 * sift - for a feed in a sequence, what of a parsed file goes to each target,
 * decided against that target's key store (queue/keys.h), between the parse
 * and the submitting:
 *
 *   superseded  the key's stamp in the store is newer than the file's: a later
 *               file already spoke for it (a full snapshot with absent.*
 *               speaks for every key at its stamp, those it lacks included);
 *   unchanged   diff = yes and the values equal what Commerce confirmed;
 *   absent      (mode = full with absent.*) a stored key older than the file
 *               that the file lacks: sent with the absent.* values, unless
 *               that would touch more than max_absent of the keys known (the
 *               file is refused whole, nothing sent; redrop --force applies it);
 *   sent        everything else.
 *
 * The result is a parcel per target in the out dir (sift.TARGET/: batches
 * with their partner lines, then the absent rows' batches), written durably
 * and then sift.json, so a file resumed after a crash is submitted from the
 * same batches (its recorded answers match) whatever the store says by then.
 *
 * The store changes only for what Commerce confirmed: sift_confirmed for each
 * request Commerce imported (kept, and put in the store in hash order by
 * sift_flush: a few sorted transactions instead of one per request),
 * sift_target_done when a target has every batch through (a full snapshot's
 * marks, the stamps of a delta's unchanged rows). All are idempotent, so a
 * resume may run them again: the answers recorded before a crash are
 * confirmed again. A file that has sent a request goes first in its lane
 * (daemon/workers.c), so no file of the sequence is sifted against a store
 * that lacks what Commerce already has.
 */
#ifndef DG_SIFT_H
#define DG_SIFT_H

#include <stddef.h>

#include "util/buf.h"

struct conf;
struct feed;
struct ledger;

struct sift_counts {
	unsigned long sent, unchanged, superseded, absent, rejected, batches;
};

struct sift_target {
	char *name;
	char *dir; /* its parcel's out dir */
	long long scope;
	struct sift_counts n;
	/* requests Commerce imported, not yet in the store: batch and rows ("1-40,42") */
	size_t npending, pending_rows;
	unsigned *pending_seq;
	char **pending;
};

struct sift {
	const struct feed *f;
	const char *name; /* the file's name: its batches' names */
	long long stamp;
	size_t ntargets;
	struct sift_target *t;
	int stale;     /* rows, and every one superseded for every target */
	char *refused; /* too many absent keys: why (nothing is sent) */
};

/*
 * sift_prepare: the sift of the parcel in outdir (batches of name), done now
 * or read back from sift.json. force (redrop --force) lifts max_absent.
 * 0, or -1 with err (a disk or ledger error: not the file's fault).
 */
int sift_prepare(struct sift *s, struct ledger *l, const struct conf *c, const struct feed *f,
		 const char *partner, const char *outdir, const char *name, unsigned long batches,
		 long long stamp, int force, struct buf *err);
void sift_release(struct sift *s);
/* sift_saved: the sift of the parcel in outdir is done and saved (sift.json). Until it
   is, the parcel is not durable (a sequence's parse is not synced: the daemon sifts it
   straight after): a file resumed without it is parsed again. */
int sift_saved(const char *outdir);

/* sift_confirmed: rows ("1-40,42") of target t's batch seq were imported: for the store
   (put there now when many wait). */
int sift_confirmed(struct sift *s, struct ledger *l, size_t t, unsigned seq, const char *rows);
/* sift_flush: what target t has confirmed into the store, in hash order. 0 or -1. */
int sift_flush(struct sift *s, struct ledger *l, size_t t);
/* sift_target_done: target t has every batch through: the file's stamp for what it held. */
int sift_target_done(struct sift *s, struct ledger *l, size_t t);
/* sift_target: the index of a target by name, or ntargets. */
size_t sift_target(const struct sift *s, const char *name);

#endif
