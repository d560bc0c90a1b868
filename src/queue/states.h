/*
 * states - a file's states, in one table: which are in flight (a worker
 * takes the file on from there, at start too) and which are final. Every
 * rule about states, and the SQL that selects by them, is built from it.
 */
#ifndef DG_STATES_H
#define DG_STATES_H

#define ST_RECEIVED "received"	   /* claimed: ledger rows written, the move may be cut */
#define ST_PROCESSING "processing" /* in work/, to be parsed */
#define ST_SUBMITTING "submitting" /* parsed, its batches durable: to Commerce */
#define ST_DEFERRED "deferred"	   /* waiting for its next try (Commerce, the disk, a feed) */
#define ST_DONE "done"
#define ST_PARTIAL "partial"
#define ST_FAILED "failed"
#define ST_DUPLICATE "duplicate"
#define ST_STALE "stale"
#define ST_REFUSED "refused"

enum { STATE_IN_FLIGHT = 1, STATE_FINAL = 2, STATE_IMPORTED = 4 };

struct state_info {
	const char *name;
	unsigned flags;
	const char *what; /* for a person */
};

/* state_info: the row of name, NULL for a name no table row has. */
const struct state_info *state_info(const char *name);
/* state_is: name's row has every flag in flags. */
int state_is(const char *name, unsigned flags);
/* state_sql_list: "'a','b',..." of the states with flags, for WHERE state IN (...). */
const char *state_sql_list(unsigned flags);

#endif
