#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/run.h"
#include "lib/conf.h"
#include "ops/alert.h"
#include "ops/ops.h"
#include "queue/ledger.h"
#include "queue/ledger_rows.h"
#include "queue/nodes.h"
#include "queue/notes.h"
#include "util/log.h"

static long long monotonic_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void ops_start(struct ops *o, const struct conf *c, struct ledger *l, unsigned long workers)
{
	memset(o, 0, sizeof(*o));
	o->src.ledger = l;
	o->src.conf = c;
	o->src.workers = workers;
	o->src.main_tick_ms = monotonic_ms();
	notify_init(&o->notify);
	expect_init(&o->expect, time(NULL));
	if (c->metrics) {
		struct buf err = BUF_INIT(4096);
		o->metrics = metrics_start(c->metrics, &o->src, &err);
		if (o->metrics == NULL)
			log_simple(LOG_ERROR, "metrics_failed", "%s: running without metrics",
				   buf_cstr(&err));
		else
			log_simple(LOG_INFO, "metrics", "serving /metrics and /healthz on %s",
				   c->metrics);
		buf_release(&err);
	}
}

static void count_row(void *ctx, size_t n, const char *const *col)
{
	(void)n;
	*(long long *)ctx = strtoll(col[0], NULL, 10);
}

/* status_line: "N files in flight, K late feeds, next export NAME at HH:MM" */
static void status_line(struct ops *o, const struct conf *c, char *out, size_t size)
{
	long long in_flight = 0;
	time_t next = 0;
	const char *name = NULL;
	int len;

	ledger_rows(
	    o->src.ledger,
	    "SELECT count(*) FROM files WHERE state IN ('received','processing','submitting')",
	    count_row, &in_flight, "");
	for (size_t i = 0; i < c->nexports; i++) {
		struct note_key key = {""};
		char last[32] = "";
		time_t t;
		ledger_note_get(o->src.ledger, note_export_last_run(&key, c->exports[i].name), last,
				sizeof(last));
		t = export_next_run(&c->exports[i], (time_t)strtoll(last, NULL, 10));
		if (t == 0)
			t = time(NULL);
		if (name == NULL || t < next) {
			next = t;
			name = c->exports[i].name;
		}
	}
	len = snprintf(out, size, "%lld file%s in flight", in_flight, in_flight == 1 ? "" : "s");
	if (o->expect.late && len > 0 && (size_t)len < size)
		len += snprintf(out + len, size - (size_t)len, ", %lu feed%s late", o->expect.late,
				o->expect.late == 1 ? "" : "s");
	if (name && len > 0 && (size_t)len < size) {
		struct tm tm;
		char at[32];
		localtime_r(&next, &tm);
		strftime(at, sizeof(at), "%Y-%m-%d %H:%M", &tm);
		snprintf(out + len, size - (size_t)len, ", next export %s at %s", name, at);
	}
}

void ops_tick(struct ops *o, const struct conf *c)
{
	long long now = monotonic_ms();
	char status[256];

	o->src.main_tick_ms = now;
	o->src.conf = c;
	notify_tick(&o->notify, now);
	alert_reap();
	if (o->notify.ready && now < o->next_check_ms)
		return;
	o->next_check_ms = now + 1000;
	/* late feeds and alerts are told by one node: the first by name whose lease lives */
	if (ledger_node_leads(o->src.ledger))
		expect_check(&o->expect, c, o->src.ledger, time(NULL));
	o->src.late = o->expect.late;
	status_line(o, c, status, sizeof(status));
	if (!o->notify.ready) {
		notify_ready(&o->notify, status);
		log_simple(LOG_INFO, "ready", "%s", status);
	} else {
		notify_status(&o->notify, status);
	}
}

void ops_reloading(struct ops *o)
{
	notify_reloading(&o->notify);
}

void ops_reloaded(struct ops *o, const struct conf *c)
{
	o->src.conf = c;
	notify_reloaded(&o->notify);
}

void ops_stopping(struct ops *o)
{
	o->src.stopping = 1;
	notify_stopping(&o->notify);
}

void ops_stop(struct ops *o)
{
	metrics_stop(o->metrics);
	o->metrics = NULL;
	expect_release(&o->expect);
}
