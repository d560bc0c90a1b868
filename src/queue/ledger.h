/*
 * ledger - the daemon's memory: every file, batch and answer, in SQLite (WAL)
 * or PostgreSQL (db.h: the backend is chosen by the location); the batches and
 * requests are requests.c's.
 *
 * A state change is committed (synchronous = FULL) before anything depends
 * on it, like a mail queue's file in its next directory. One connection, used
 * under one lock by the daemon's threads. A failed write is fatal to the
 * daemon (ledger_failed says so), never retried in place: state on disk and in
 * the ledger must not drift apart.
 */
#ifndef DG_LEDGER_H
#define DG_LEDGER_H

#include <stdint.h>
#include <time.h>

#include "util/buf.h"

struct ledger;

/* The states of a file, as the contract names them. */
#include "queue/states.h" /* ST_*: the states table */

struct ledger_file {
	long long id;
	char partner[256];
	char feed[256];
	char name[1024];
	char sha256[65];
	long long size;
	char state[16];
	char path[4096];    /* where the bytes are now */
	time_t received, finished, next_try;
	long rows, rows_ok, rows_rejected, batches;
	int attempts;
	char message[1024];
	int force;          /* a forced redrop: no duplicate check */
	char lane[300];     /* files of one lane go one at a time: "seq:NAME" or the feed */
	long long stamp;    /* when the data was true (feeds in a sequence), else 0 */
};

/* Where a new file queues: its lane (NULL: its feed) and stamp, oldest stamp first. */
struct ledger_lane {
	const char *lane;
	long long stamp;
};

/* ledger_location: where the ledger is: the configured location (`ledger =`, a
   PostgreSQL URI or conninfo), else <state>/ledger.db. To free. */
char *ledger_location(const char *configured, const char *state);
/* ledger_is_file: the location is an SQLite file (status checks it exists first) */
int ledger_is_file(const char *location);
/* ledger_open: a file path (SQLite) or a PostgreSQL location; schema made or migrated */
struct ledger *ledger_open(const char *location, struct buf *err);
void ledger_close(struct ledger *l);
/* ledger_failed: a write failed; the daemon must stop. */
int ledger_failed(const struct ledger *l);
/* ledger_lost: the failure is the server's connection gone (PostgreSQL restarted, the
   network cut): the daemon pauses and ledger_reconnect tries again; nothing was written
   since. ledger_reconnect: 0 back (the failure cleared), -1 not yet. */
int ledger_lost(const struct ledger *l);
int ledger_reconnect(struct ledger *l);
/* ledger_idle: the database's upkeep (SQLite: its WAL checkpointed) on a connection of
   its own, beside the daemon's threads: the main loop calls it every few seconds. */
void ledger_idle(struct ledger *l);

/* ledger_add: a new file in state received; its id. -1 on failure. */
long long ledger_add(struct ledger *l, const char *partner, const char *feed, const char *name,
		     const char *path, long long size, int force);
/*
 * ledger_add_group: one row per feed for one file, all or none (one
 * transaction): a claim cut short is finished from these rows. state is
 * received (message goes to the event) or refused (message is the reason).
 * lanes (NULL: each its feed, stamp 0) has one entry per feed. ids gets the
 * n ids. 0 or -1.
 */
int ledger_add_group(struct ledger *l, const char *partner, const char *const *feeds, size_t n,
		     const char *name, const char *path, long long size, int force,
		     const char *state, const char *message, const struct ledger_lane *lanes,
		     long long *ids);
/* ledger_add_claim: as ledger_add_group for a file of the spool as stat saw it (ident:
   its size, mtime, inode and ctime): this node holds the rows. 1 when another node
   claimed the same file first (no row added: leave the file alone), 0 added, -1 failed. */
int ledger_add_claim(struct ledger *l, const char *partner, const char *const *feeds, size_t n,
		     const char *name, const char *path, long long size, const char *ident,
		     const char *state, const char *message, const struct ledger_lane *lanes,
		     long long *ids);
/* ledger_claim_retry: a received file whose claim failed waits until next_try. */
int ledger_claim_retry(struct ledger *l, long long id, time_t next_try, const char *message);
/* ledger_each_at: the files in state whose path is path, oldest first, to fn. */
int ledger_each_at(struct ledger *l, const char *path, const char *state,
		   void (*fn)(void *ctx, const struct ledger_file *f), void *ctx);
/* ledger_count_at: files at path in one of states_csv, of this size (-1: any). */
long long ledger_count_at(struct ledger *l, const char *path, const char *states_csv,
			  long long size);
int ledger_get(struct ledger *l, long long id, struct ledger_file *f);
int ledger_set_state(struct ledger *l, long long id, const char *state, const char *message);
int ledger_set_path(struct ledger *l, long long id, const char *path, const char *sha256);
int ledger_set_counts(struct ledger *l, long long id, long rows, long ok, long rejected,
		      long batches);
int ledger_defer(struct ledger *l, long long id, time_t next_try, const char *message);
/* ledger_find_same: an earlier file of partner+feed with these bytes in one of states. */
long long ledger_find_same(struct ledger *l, long long id, const char *partner, const char *feed,
			   const char *sha256, const char *states_csv);
/* ledger_first_in_flight: the id of the file of partner+lane in flight to go first, or 0:
   one that has sent a request already (it finishes before another is sifted: sift.h),
   then the oldest stamp, then the oldest claim. */
long long ledger_first_in_flight(struct ledger *l, const char *partner, const char *lane);
/* LEDGER_STARTED_FIRST: the SQL order term that puts such a file first */
#define LEDGER_STARTED_FIRST \
	"EXISTS (SELECT 1 FROM requests r WHERE r.file_id = files.id) DESC"
/* ledger_in_flight_path: is a file at this spool path already claimed and in flight? */
int ledger_in_flight_path(struct ledger *l, const char *path);

/* batches: seq per target; states pending, sent, done, refused */
int ledger_batch_state(struct ledger *l, long long id, const char *target, unsigned seq,
		       char *state, size_t size);
int ledger_batch_set(struct ledger *l, long long id, const char *target, unsigned seq,
		     const char *state, const char *answer_json);
/* ledger_batch_answers: each answered batch's answer JSON, in order, to fn. */
int ledger_batch_answers(struct ledger *l, long long id,
			 void (*fn)(void *ctx, const char *target, unsigned seq, const char *json),
			 void *ctx);

/*
 * requests: what was sent for one batch, each request (sub 0, 1, ...) with the
 * batch rows it carried ("1-40,42"); states sent, done, refused. A batch that
 * Commerce refuses row by row is settled in several requests; after a crash
 * the recorded answers say where to go on, so only the request in flight
 * (still "sent") goes again.
 */
struct ledger_request {
	char *target;
	unsigned seq, sub;
	char *rows;
	char state[16];
	char *answer;
};
/* ledger_request_set: with batch_state, the batch takes that state in the same commit. */
int ledger_request_set(struct ledger *l, long long id, const char *target, unsigned seq,
		       unsigned sub, const char *rows, const char *state, const char *answer_json,
		       const char *batch_state);
/* ledger_request_get: 0 with *r filled (release it), -1 when not recorded. */
int ledger_request_get(struct ledger *l, long long id, const char *target, unsigned seq,
		       unsigned sub, struct ledger_request *r);
void ledger_request_release(struct ledger_request *r);
/* ledger_requests: a file's requests by target, batch and order sent, to fn. */
int ledger_requests(struct ledger *l, long long id,
		    void (*fn)(void *ctx, const struct ledger_request *r), void *ctx);

/* ledger_each: the files where (an SQL condition), oldest first when asc. */
int ledger_each(struct ledger *l, const char *where, int asc, int limit,
		void (*fn)(void *ctx, const struct ledger_file *f), void *ctx);
/* ledger_events: a file's history, each line to fn. */
int ledger_events(struct ledger *l, long long id,
		  void (*fn)(void *ctx, time_t ts, const char *state, const char *message), void *ctx);

/* ledger_batches_done: batches of a file Commerce confirmed, for one target or all. */
long ledger_batches_done(struct ledger *l, long long id);
/* key-value notes (watermarks, pauses) */
int ledger_note_set(struct ledger *l, const char *key, const char *value);
int ledger_note_get(struct ledger *l, const char *key, char *value, size_t size);

#endif
