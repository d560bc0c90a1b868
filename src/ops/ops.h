/*
 * ops - what the daemon does for the people who run it, called from its main
 * loop (daemon.c): metrics and health over HTTP (metrics.h), late feeds and
 * alerts (expect.h, alert.h), systemd's notifications (notify.h). Nothing
 * here touches a file's way through the appliance.
 */
#ifndef DG_OPS_H
#define DG_OPS_H

#include "ops/expect.h"
#include "ops/metrics.h"
#include "ops/notify.h"

struct conf;
struct ledger;

struct ops {
	struct metrics_source src;
	struct metrics *metrics;
	struct notify notify;
	struct expect expect;
	long long next_check_ms; /* expect and STATUS= once a second, not every tick */
};

/* ops_start: before the main loop, after recovery: the metrics endpoint if configured
   (a failure to listen is logged and the daemon goes on without it). */
void ops_start(struct ops *o, const struct conf *c, struct ledger *l, unsigned long workers);
/* ops_tick: each pass of the main loop; the first one says READY=1 */
void ops_tick(struct ops *o, const struct conf *c);
void ops_reloading(struct ops *o);
void ops_reloaded(struct ops *o, const struct conf *c);
/* ops_stopping: STOPPING=1, /healthz says so; ops_stop: the endpoint closed */
void ops_stopping(struct ops *o);
void ops_stop(struct ops *o);

#endif
