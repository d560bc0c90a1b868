/*
 * metrics - GET /metrics (Prometheus text format) and GET /healthz, served by
 * libmicrohttpd on `metrics = ADDR:PORT` from a thread of its own.
 *
 * /metrics reads the ledger (files, rows, batches, the queue, last imports,
 * late feeds, its own size), the disks (free bytes of spool and state) and
 * this process's counters (ops/counters.h: Commerce requests, their seconds,
 * retries, exports). Every family has HELP and TYPE before its samples, and
 * every series appears once. /healthz answers 200 "ok" while the main loop
 * ticks, the ledger answers a query and can be written (no failed write, the
 * file and its directory writable), and the daemon is not stopping; 503 with
 * the reason otherwise. Anything else is 404.
 */
#ifndef DG_METRICS_H
#define DG_METRICS_H

#include "util/buf.h"

struct conf;
struct ledger;

/* what the server asks the daemon about; all of it may be read from the server's thread */
struct metrics_source {
	struct ledger *ledger;
	const struct conf *volatile conf; /* the running one (replaced on reload) */
	volatile long long main_tick_ms;  /* CLOCK_MONOTONIC ms of the main loop's last tick */
	volatile int stopping;
	volatile unsigned long late; /* feeds late at the last check */
	unsigned long workers;
};

struct metrics;

/* metrics_start: listen on addr ("127.0.0.1:9464", "[::1]:9464"); NULL with err. */
struct metrics *metrics_start(const char *addr, struct metrics_source *src, struct buf *err);
void metrics_stop(struct metrics *m);

/* metrics_render: the /metrics body; metrics_health: 0 healthy, else -1 with why. */
void metrics_render(struct metrics_source *src, struct buf *out);
int metrics_health(struct metrics_source *src, struct buf *why);

#endif
