/*
 * picture - a sequence's confirmed picture for one target: every partner's
 * key store scope of it (queue/keys.h) taken together, one entry per key, the
 * newest stamp winning (a key's stamp as keys_stamp_of tells it: its entry's,
 * or the full snapshot's that held it, or the last complete snapshot's; a tie
 * goes to the partner named first). What kind = stock exports copy to the
 * sales channels.
 *
 * Read only; each function is one statement under the ledger's lock, so a
 * picture is never half of a transaction. 0, or -1 when the ledger failed.
 */
#ifndef DG_PICTURE_H
#define DG_PICTURE_H

struct ledger;

struct picture_entry {
	const char *key;     /* the key columns' values as one CSV record */
	const char *header;  /* the CSV header of the row Commerce confirmed */
	const char *row;     /* and its record */
	long long stamp;     /* when its values were true */
	const char *partner; /* whose scope it came from */
};

/* picture_headers: each distinct header among the entries, in byte order, to fn. */
int picture_headers(struct ledger *l, const char *sequence, const char *target,
		    int (*fn)(void *ctx, const char *header), void *ctx);
/* picture_each: each key's winning entry, in key order (bytes), to fn (nonzero stops). */
int picture_each(struct ledger *l, const char *sequence, const char *target,
		 int (*fn)(void *ctx, const struct picture_entry *e), void *ctx);

#endif
