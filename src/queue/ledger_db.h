/*
 * ledger_db - inside the ledger (ledger.c, requests.c, keys.c ...): the
 * database connection (db.h) behind one lock, and the statement helpers.
 * Nothing outside src/queue includes this.
 */
#ifndef DG_LEDGER_DB_H
#define DG_LEDGER_DB_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#include "queue/db.h"

struct ledger {
	struct db *db;
	pthread_mutex_t lock; /* one statement (or transaction) at a time */
	int failed;	      /* a write failed: the daemon must stop (atomic) */
	int lost;	      /* ... because the server's connection is gone: it pauses (atomic) */
	/* the node this process is (nodes.h); "" for a command, whose writes carry no
	   fence. epoch and the fenced files under lock */
	char node[256];
	long long epoch;
	long lease;
	long long fenced[64]; /* files a write found held by another node (a ring) */
	unsigned nfenced;
};

/* ledger_fence_step: inside the caller's transaction, the lock held: file id is still
   this node's (always, without a node), its row locked to the commit. 1 held, 0 another
   node holds it (told and remembered: ledger_fenced), -1 error. */
int ledger_fence_step(struct ledger *l, long long id);
/* ledger_fenced_begin: a write of file id's rows begun: the lock taken, a transaction
   begun, the file still this node's (ledger_fence_step). 0 held, 1 another node holds it,
   -1 error; ledger_write_end follows either way. */
int ledger_fenced_begin(struct ledger *l, long long id);
/* ledger_write_end: a write's transaction ended, the lock held since its begin released:
   rc 0 commits, anything else rolls back (-1: a write failed, the ledger marked failed).
   0 committed, -1 failed (the commit too), else rc. */
int ledger_write_end(struct ledger *l, int rc);
/* ledger_fence_lost: a write found file id held by another node: told, remembered */
void ledger_fence_lost(struct ledger *l, long long id);

/* ledger_mark_failed: a write failed (the lock held): logged, and the daemon stops. */
void ledger_mark_failed(struct ledger *l);
/* ledger_run: one statement, no rows; a failure marks the ledger failed. 0 or -1. */
int ledger_run(struct ledger *l, const char *sql, const char *types, ...);
/* ledger_step: as ledger_run with the lock held, inside the caller's transaction;
   it marks nothing. 0 or -1. */
int ledger_step(struct ledger *l, const char *sql, const char *types, ...);
/* ledger_event: a line of a file's history. */
int ledger_event(struct ledger *l, long long id, const char *state, const char *message);
/* ledger_single_int: the first column of the first row, 0 when none. */
long long ledger_single_int(struct ledger *l, const char *sql, const char *types, ...);

/* ledger_copy_text: a column's text into dst ("" for NULL), cut to size. */
void ledger_copy_text(char *dst, size_t size, const char *src);
/* ledger_strdup: a column's text, "" for NULL, to free */
char *ledger_strdup(const char *src);

#endif
