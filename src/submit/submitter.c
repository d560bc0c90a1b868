/*
 * submitter - a file's batches to one Commerce target, in order, with the
 * next batch read and compressed by a second thread while one is in flight.
 * Each batch is settled by settle_batch (rows Commerce refuses are told and
 * left out); Commerce's row answers are told as the partner's lines (file,
 * member, column, value) through the parcel's report. Hooks let the daemon
 * record each request before and after it is sent, replay the answers of
 * requests made before a restart, and stop between requests.
 */
#include "config.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "commerce/payload.h"
#include "submit/settle.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "submit/submitter.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

#define QUEUE 2

/* The preparer thread fills slots in order; the sender empties them. */
struct queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct prepared slot[QUEUE];
	unsigned next_fill, next_take; /* sequence numbers */
	unsigned last;		       /* batches in all */
	int stop;
	struct parcel *parcel;
	const struct target *target;
	struct import_params params;
};

static void prepare(struct queue *q, struct prepared *p, unsigned seq)
{
	p->seq = seq;
	p->ok = 0;
	buf_reset(&p->body);
	buf_reset(&p->err);
	if (parcel_read_batch(q->parcel, seq, &p->csv, &p->origin, &p->rows, &p->err) < 0)
		return;
	if ((q->target->api == API_JSON ? payload_json : payload_csv)(
		&q->params, p->csv.data, p->csv.len, &p->body, &p->err) == 0)
		p->ok = 1;
}

static void *preparer(void *arg)
{
	struct queue *q = arg;

	pthread_mutex_lock(&q->lock);
	while (!q->stop && q->next_fill <= q->last) {
		unsigned seq = q->next_fill;
		struct prepared *p = &q->slot[seq % QUEUE];

		if (seq >= q->next_take + QUEUE) { /* both slots full: wait */
			pthread_cond_wait(&q->cond, &q->lock);
			continue;
		}
		pthread_mutex_unlock(&q->lock);
		prepare(q, p, seq);
		pthread_mutex_lock(&q->lock);
		q->next_fill++;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static struct prepared *take(struct queue *q, unsigned seq)
{
	pthread_mutex_lock(&q->lock);
	while (q->next_fill <= seq)
		pthread_cond_wait(&q->cond, &q->lock);
	pthread_mutex_unlock(&q->lock);
	return &q->slot[seq % QUEUE];
}

static void taken(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->next_take++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* --- telling Commerce's row answers as the partner's lines ----------------- */

/* queue_open: the batch queue of one target, its preparer thread started. */
static void queue_open(struct queue *q, struct parcel *pc, const struct target *t,
		       pthread_t *thread)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->next_fill = 1;
	q->next_take = 1;
	q->last = (unsigned)pc->batches;
	q->parcel = pc;
	q->target = t;
	q->params.entity = pc->feed->entity->name;
	q->params.behavior = pc->feed->behavior;
	/* stop-on-errors whatever the feed says: under skip-errors Commerce drops bad
	   rows without a word (StartImport::canSkipValidationErrors); the feed's
	   `validation` is dropgate's own rule, applied by settle_batch */
	q->params.skip_errors = 0;
	q->params.allowed_errors = 0;
	for (int i = 0; i < QUEUE; i++) {
		buf_init(&q->slot[i].csv, BUF_NOCAP);
		buf_init(&q->slot[i].body, BUF_NOCAP);
		buf_init(&q->slot[i].err, 4096);
	}
	pthread_create(thread, NULL, preparer, q);
}

/* queue_close: the preparer stopped and joined, the slots freed. */
static void queue_close(struct queue *q, pthread_t thread)
{
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	q->next_take = q->last + QUEUE + 1; /* wake a waiting preparer */
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(thread, NULL);
	for (int i = 0; i < QUEUE; i++) {
		buf_release(&q->slot[i].csv);
		buf_release(&q->slot[i].body);
		buf_release(&q->slot[i].err);
		free(q->slot[i].origin);
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

/* send_all: each batch in turn, settled (settle.c), until the last or a stop. */
static void send_all(struct submit_state *s, const struct target *t, struct queue *q,
		     struct commerce_client *client, struct buf *msg)
{
	unsigned long batches = s->parcel->batches;

	for (unsigned seq = 1; seq <= batches && !s->exceeded; seq++) {
		struct prepared *p = take(q, seq);
		enum settle_outcome out;

		if (!p->ok) {
			buf_reset(msg);
			buf_printf(msg, "batch %u not sent: %s", seq, buf_cstr(&p->err));
			parcel_message(s->parcel, buf_cstr(msg));
			s->status = EXIT_COMMERCE;
			taken(q);
			break;
		}
		out = settle_batch(s, t, client, p);
		taken(q);
		if (out == SETTLE_STOP) {
			if (seq < batches && !s->stopped) {
				buf_reset(msg);
				buf_printf(msg, "batches %u to %lu were not sent to %s", seq + 1,
					   batches, t->name);
				parcel_message(s->parcel, buf_cstr(msg));
			}
			break;
		}
	}
}

/* submit_target: every batch to one target. */
void submit_target(struct submit_state *s, const struct target *t)
{
	struct parcel *pc = s->parcel;
	struct queue q;
	struct buf err = BUF_INIT(4096), msg = BUF_INIT(BUF_NOCAP);
	struct commerce_client *client = NULL;
	pthread_t thread;
	struct logline l;

	if (s->exceeded) { /* an earlier target found more rejected rows than the feed allows */
		buf_printf(&msg, "nothing sent to [commerce %s]: too many rows rejected", t->name);
		parcel_message(pc, buf_cstr(&msg));
		goto out;
	}
	client = commerce_client_new(t, &err);
	if (client == NULL) {
		buf_printf(&msg, "nothing sent to [commerce %s]: %s", t->name, buf_cstr(&err));
		parcel_message(pc, buf_cstr(&msg));
		s->status = EXIT_COMMERCE;
		goto out;
	}
	if (s->hooks && s->hooks->stop)
		commerce_client_set_stop(client, s->hooks->stop, s->hooks->ctx);
	s->imported = 0;
	queue_open(&q, pc, t, &thread);
	send_all(s, t, &q, client, &msg);
	queue_close(&q, thread);
	log_begin(&l, LOG_INFO, "target_done");
	log_kv(&l, "file", pc->path);
	log_kv(&l, "target", t->name);
	log_kvf(&l, "wire_bytes", "%llu", commerce_wire_bytes(client));
	log_end(&l);
out:
	commerce_client_free(client);
	buf_release(&err);
	buf_release(&msg);
}
