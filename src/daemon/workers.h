/*
 * workers - the threads that take files to their end (see workers.c).
 */
#ifndef DG_WORKERS_H
#define DG_WORKERS_H

#include <pthread.h>
#include <stddef.h>

#include "util/strlist.h"

struct ledger;

struct workers {
	struct ledger *ledger;
	size_t nthreads;
	void (*run)(void *ctx, long long id); /* one file, from its ledger state to its end */
	void (*wake)(void *ctx);	      /* a file ended: the main loop dispatches again */
	int (*stop)(void);		      /* a stop was asked: take nothing more */
	void *ctx;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	long long *queue;
	size_t nqueue;
	struct strlist busy; /* "partner/feed" in a worker */
	long long *running;  /* ids in workers */
	size_t nrunning;
	pthread_t *threads;
};

/* workers_start: nthreads threads waiting for files. */
void workers_start(struct workers *w);
/* workers_dispatch: the queue again from the ledger; waiting threads woken. */
void workers_dispatch(struct workers *w);
/* workers_wake_all: every waiting thread wakes (to see a stop). */
void workers_wake_all(struct workers *w);
/* workers_idle: no file in a worker and none queued. */
int workers_idle(struct workers *w);
/* workers_release: after the threads were joined. */
void workers_release(struct workers *w);

#endif
