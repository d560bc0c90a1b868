#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/bi.h"
#include "export/orders.h"
#include "export/run.h"
#include "lib/conf.h"
#include "queue/ledger.h"
#include "queue/notes.h"
#include "util/log.h"

/* a run's BI catch-up: a month of missed nights; more are left for the next run */
#define BI_DAYS_MAX 31

static time_t last_run(struct ledger *l, const struct export *e)
{
	struct note_key key = { "" };
	char v[64];

	if (ledger_note_get(l, note_export_last_run(&key, e->name), v, sizeof(v)) < 0)
		return 0;
	return (time_t)strtoll(v, NULL, 10);
}

int export_due(struct ledger *l, const struct export *e, time_t now)
{
	char day[11];

	if (e->kind == EXPORT_BI)
		return bi_next_day(l, e, now, day) && bi_day_due(e, day, now);
	return export_next_run(e, last_run(l, e)) <= now;
}

static int bi_day(const struct conf *c, const struct export *e, struct ledger *l, const char *day,
		  struct export_outcome *out, struct buf *err)
{
	unsigned long rows;

	if (export_bi(c, e, l, day, &rows, err) < 0)
		return -1;
	out->days++;
	out->rows += rows;
	log_simple(LOG_INFO, "export_written", "[export %s]: day %s, %lu rows", e->name, day, rows);
	return 0;
}

static int run_bi(const struct conf *c, const struct export *e, struct ledger *l, time_t now,
		  const char *day, const volatile sig_atomic_t *stop, struct export_outcome *out,
		  struct buf *err)
{
	char next[11];

	if (day)
		return bi_day(c, e, l, day, out, err);
	/* every day not yet exported, up to yesterday: a missed night too */
	while (!(stop && *stop) && out->days < BI_DAYS_MAX && bi_next_day(l, e, now, next) &&
	       bi_day_due(e, next, now))
		if (bi_day(c, e, l, next, out, err) < 0)
			return -1;
	return 0;
}

static int run_orders(const struct conf *c, const struct export *e, struct ledger *l,
		      struct export_outcome *out, struct buf *err)
{
	struct logline line;

	if (export_orders(c, e, l, &out->orders, err) < 0)
		return -1;
	if (out->orders.file[0]) {
		log_begin(&line, LOG_INFO, "export_written");
		log_kv(&line, "export", e->name);
		log_kv(&line, "file", out->orders.file);
		log_kvf(&line, "orders", "%lu", out->orders.orders);
		log_end(&line);
	}
	return 0;
}

static int run_stock(const struct conf *c, const struct export *e, struct ledger *l, time_t now,
		     struct export_outcome *out, struct buf *err)
{
	struct logline line;

	if (export_stock(c, e, l, now, &out->stock, err) < 0)
		return -1;
	if (out->stock.file[0]) {
		log_begin(&line, LOG_INFO, "export_written");
		log_kv(&line, "export", e->name);
		log_kv(&line, "file", out->stock.file);
		log_kvf(&line, "keys", "%lu", out->stock.keys);
		log_end(&line);
	}
	return 0;
}

int export_run(const struct conf *c, const struct export *e, struct ledger *l, time_t now,
	       const char *day, const volatile sig_atomic_t *stop, struct export_outcome *out,
	       struct buf *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (e->kind == EXPORT_BI)
		rc = run_bi(c, e, l, now, day, stop, out, err);
	else if (e->kind == EXPORT_STOCK)
		rc = run_stock(c, e, l, now, out, err);
	else
		rc = run_orders(c, e, l, out, err);
	if (rc < 0) {
		snprintf(out->text, sizeof(out->text), "failed: %.200s", buf_cstr(err));
		log_simple(LOG_WARN, "export_failed", "[export %s]: %s", e->name, buf_cstr(err));
	} else if (e->kind == EXPORT_BI) {
		snprintf(out->text, sizeof(out->text), "%u day(s), %lu rows", out->days, out->rows);
	} else if (e->kind == EXPORT_STOCK) {
		snprintf(out->text, sizeof(out->text), "%lu keys%s", out->stock.keys,
			 out->stock.file[0] ? "" : ", unchanged: no file");
	} else {
		snprintf(out->text, sizeof(out->text), "%lu orders, %lu items", out->orders.orders,
			 out->orders.items);
	}
	/* a failure is tried again at the next schedule: last_run moves, the watermark does not */
	export_record(l, e, now, out->text);
	return rc;
}

time_t export_next_run(const struct export *e, time_t last)
{
	struct tm tm;
	time_t t;

	if (e->every)
		return last ? last + (time_t)e->every : 0;
	if (last == 0)
		last = time(NULL) - 1;
	localtime_r(&last, &tm);
	for (int day = 0; day < 3; day++) {
		struct tm at = tm;
		at.tm_mday += day;
		at.tm_hour = e->at_minutes / 60;
		at.tm_min = e->at_minutes % 60;
		at.tm_sec = 0;
		at.tm_isdst = -1;
		t = mktime(&at);
		if (t > last)
			return t;
	}
	return last + 86400;
}

void export_record(struct ledger *l, const struct export *e, time_t when, const char *outcome)
{
	struct note_key key = { "" };
	char v[64];

	snprintf(v, sizeof(v), "%lld", (long long)when);
	ledger_note_set(l, note_export_last_run(&key, e->name), v);
	ledger_note_set(l, note_export_outcome(&key, e->name), outcome);
}
