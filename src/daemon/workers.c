/*
 * workers - up to `workers` threads, each taking a file from where the ledger
 * says it is to its end state (daemon/job.c), never two files of one partner
 * and lane at once (a lane is a feed, or the feeds of one sequence), and each
 * lane's files in order (one that has sent a request first, then oldest
 * stamp, then oldest claim; a feed outside a sequence has stamp 0: ledger
 * order): the queue is rebuilt from the ledger
 * at every dispatch, holding for each free partner and lane only its first
 * file in flight (a deferred one not yet due holds its key: order is kept).
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/workers.h"
#include "queue/ledger.h"
#include "queue/nodes.h"
#include "util/xalloc.h"

#define MAX_QUEUE 100000

struct pick {
	struct workers *w;
	time_t now;
	struct strlist chosen; /* keys that have their file this round */
};

static char *key_of(const char *partner, const char *lane)
{
	return xasprintf("%s/%s", partner, lane);
}

static int is_running(struct workers *d, long long id)
{
	for (size_t i = 0; i < d->nrunning; i++)
		if (d->running[i] == id)
			return 1;
	return 0;
}

/* consider: files come oldest first; each free key takes its first, unless that waits */
static void consider(void *ctx, const struct ledger_file *f)
{
	struct pick *p = ctx;
	struct workers *d = p->w;
	char *key = key_of(f->partner, f->lane);

	if (is_running(d, f->id)) {
		/* taken by a worker, perhaps not yet marked busy: it holds its key */
		if (!strlist_has(&p->chosen, key))
			strlist_push(&p->chosen, key);
	} else if (!strlist_has(&p->chosen, key) && !strlist_has(&d->busy, key)) {
		strlist_push(&p->chosen, key);
		/* a deferred file, or a claim waiting for its retry, not yet due holds its
		   key: order is kept */
		if ((strcmp(f->state, ST_DEFERRED) != 0 && strcmp(f->state, ST_RECEIVED) != 0) ||
		    f->next_try <= p->now) {
			d->queue = xreallocarray(d->queue, d->nqueue + 1, sizeof(*d->queue));
			d->queue[d->nqueue++] = f->id;
		}
	}
	free(key);
}

/* dispatch: the queue again, from the ledger: each free partner+lane, its first file. */
void workers_dispatch(struct workers *d)
{
	struct pick p = {d, time(NULL), STRLIST_INIT};
	char *where, *free_here;

	if (d->stop())
		return;
	free_here = ledger_free_here_sql(d->ledger);
	/* only what can start: the first file in flight of each partner and lane, unless
	   another node holds it or its lane (queue/nodes.h) */
	where = xasprintf(
	    "id IN (SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY partner, "
	    "lane ORDER BY %s, stamp, id) AS n FROM files WHERE state IN (%s)) AS q WHERE n = 1) "
	    "AND %s",
	    LEDGER_STARTED_FIRST, state_sql_list(STATE_IN_FLIGHT), free_here);
	pthread_mutex_lock(&d->lock);
	d->nqueue = 0;
	ledger_each(d->ledger, where, 1, MAX_QUEUE, consider, &p);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	strlist_clear(&p.chosen);
	free(where);
	free(free_here);
}

/*
 * file_is_next: the ledger row is still in flight and the oldest in flight of
 * its partner and feed. Whatever the queue held, a file ended is never taken
 * again, and no file starts before the one ahead of it has ended.
 */
static int file_is_next(struct workers *d, const struct ledger_file *f)
{
	if (!state_is(f->state, STATE_IN_FLIGHT))
		return 0;
	return ledger_first_in_flight(d->ledger, f->partner, f->lane) == f->id;
}

static void *worker_main(void *arg)
{
	struct workers *d = arg;

	pthread_mutex_lock(&d->lock);
	/* a ledger that failed takes no more work: what it says of a file may be stale; one
	   whose server is away (ledger_lost) waits for it */
	while (!d->stop() && (!ledger_failed(d->ledger) || ledger_lost(d->ledger))) {
		long long id;
		struct ledger_file f;
		char *key;
		int taken;

		if (ledger_failed(d->ledger)) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec++;
			d->nqueue = 0;
			pthread_cond_timedwait(&d->cond, &d->lock, &t);
			continue;
		}
		if (d->nqueue == 0) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		id = d->queue[0];
		memmove(d->queue, d->queue + 1, (d->nqueue - 1) * sizeof(*d->queue));
		d->nqueue--;
		if (is_running(d, id))
			continue;
		/* running from the pop on: a dispatch before the key is marked busy must
		   not queue this file again, nor the next file of its key */
		d->running = xreallocarray(d->running, d->nrunning + 1, sizeof(*d->running));
		d->running[d->nrunning++] = id;
		pthread_mutex_unlock(&d->lock);
		key = NULL;
		if (ledger_get(d->ledger, id, &f) == 0 && file_is_next(d, &f)) {
			key = key_of(f.partner, f.lane);
			pthread_mutex_lock(&d->lock);
			if (strlist_has(&d->busy, key)) {
				free(key);
				key = NULL;
			} else {
				strlist_push(&d->busy, key);
			}
			pthread_mutex_unlock(&d->lock);
		}
		/* the file and its lane for this node: another node's while its lease lives */
		taken = key && ledger_take(d->ledger, id, f.partner, f.lane) == 1;
		if (taken) {
			d->run(d->ctx, id);
			ledger_lane_release(d->ledger, f.partner, f.lane);
			/* a big file's buffers back to the system: this thread's arena would
			   otherwise hold its peak until the next big file */
			malloc_trim(0);
		}

		pthread_mutex_lock(&d->lock);
		for (size_t i = 0; key && i < d->busy.n; i++)
			if (strcmp(d->busy.v[i], key) == 0) {
				free(d->busy.v[i]);
				d->busy.v[i] = d->busy.v[--d->busy.n];
				break;
			}
		for (size_t i = 0; i < d->nrunning; i++)
			if (d->running[i] == id) {
				d->running[i] = d->running[--d->nrunning];
				break;
			}
		if (key == NULL)
			continue;
		free(key);
		if (taken)
			d->wake(d->ctx); /* the main loop looks for the key's next file */
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

void workers_start(struct workers *w)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->threads = xcalloc(w->nthreads, sizeof(*w->threads));
	for (size_t i = 0; i < w->nthreads; i++)
		pthread_create(&w->threads[i], NULL, worker_main, w);
}

void workers_wake_all(struct workers *w)
{
	pthread_mutex_lock(&w->lock);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int workers_idle(struct workers *w)
{
	int idle;

	pthread_mutex_lock(&w->lock);
	idle = w->nrunning == 0 && w->nqueue == 0;
	pthread_mutex_unlock(&w->lock);
	return idle;
}

void workers_release(struct workers *w)
{
	strlist_clear(&w->busy);
	free(w->queue);
	free(w->running);
	free(w->threads);
	w->queue = NULL;
	w->running = NULL;
	w->threads = NULL;
}
