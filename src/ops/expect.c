#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"
#include "ops/alert.h"
#include "ops/expect.h"
#include "queue/ledger.h"
#include "queue/ledger_rows.h"
#include "queue/notes.h"
#include "util/log.h"
#include "util/strlist.h"
#include "util/xalloc.h"

void expect_init(struct expect *x, time_t now)
{
	memset(x, 0, sizeof(*x));
	x->started = now;
	x->failed_mark = now;
}

void expect_release(struct expect *x)
{
	free(x->failed_told);
}

/* daily_deadline: the latest local at_minutes at or before now (daylight saving through mktime) */
static time_t daily_deadline(int at_minutes, time_t now)
{
	struct tm tm;

	localtime_r(&now, &tm);
	for (int back = 0; back < 3; back++) {
		struct tm at = tm;
		time_t t;

		at.tm_mday -= back;
		at.tm_hour = at_minutes / 60;
		at.tm_min = at_minutes % 60;
		at.tm_sec = 0;
		at.tm_isdst = -1;
		t = mktime(&at);
		if (t <= now)
			return t;
	}
	return now - 86400;
}

int expect_late(const struct feed *f, time_t last, time_t started, time_t now, time_t *since)
{
	time_t ref = last ? last : started;

	if (f->expect == EXPECT_EVERY) {
		*since = ref + (time_t)f->expect_every;
		return now >= *since;
	}
	if (f->expect == EXPECT_DAILY) {
		time_t d = daily_deadline(f->expect_at, now);
		/* the file due at d should have come in the day before it */
		*since = d;
		return ref <= d - 86400;
	}
	return 0;
}

void expect_each_pair(const struct conf *c,
		      void (*fn)(void *ctx, const char *partner, const struct feed *f), void *ctx)
{
	struct strlist dirs = STRLIST_INIT;
	DIR *d = opendir(c->spool);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN))
			strlist_push(&dirs, e->d_name);
	if (d)
		closedir(d);
	for (size_t i = 0; i < c->nfeeds; i++) {
		const struct feed *f = &c->feeds[i];
		const struct strlist *who =
		    f->expect_partners.n ? &f->expect_partners : &f->partners;

		if (f->expect == EXPECT_NONE)
			continue;
		for (size_t k = 0; k < who->n; k++)
			if (strpbrk(who->v[k], "*?[") == NULL)
				fn(ctx, who->v[k], f);
		for (size_t k = 0; k < dirs.n; k++) /* a pattern's partners, each once */
			if (!strlist_has(who, dirs.v[k]) && strlist_match(who, dirs.v[k]))
				fn(ctx, dirs.v[k], f);
	}
	strlist_clear(&dirs);
}

struct late_check {
	struct expect *x;
	const struct conf *c;
	struct ledger *l;
	time_t now;
};

static void last_import(void *ctx, size_t n, const char *const *col)
{
	(void)n;
	*(time_t *)ctx = (time_t)strtoll(col[0], NULL, 10);
}

static void hhmm(time_t t, char *out, size_t size)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%d %H:%M", &tm);
}

static void check_pair(void *ctx, const char *partner, const struct feed *f)
{
	struct late_check *lc = ctx;
	struct note_key key = {""};
	char noted[32] = "", msg[512], at[32];
	time_t last = 0, since;
	int late;
	struct alert_facts facts = {0};

	ledger_rows(lc->l,
		    "SELECT max(finished) FROM files WHERE partner = ? AND feed = ? AND state IN "
		    "('done','partial')",
		    last_import, &last, "ss", partner, f->name);
	late = expect_late(f, last, lc->x->started, lc->now, &since);
	ledger_note_get(lc->l, note_late(&key, partner, f->name), noted, sizeof(noted));
	if (late)
		lc->x->late++;
	if (late == (noted[0] != '\0'))
		return; /* as noted: told already, or nothing to tell */
	facts.partner = partner;
	facts.feed = f->name;
	facts.message = msg;
	if (late) {
		hhmm(since, at, sizeof(at));
		snprintf(msg, sizeof(msg),
			 "feed %s of partner %s is late since %s: no file imported", f->name,
			 partner, at);
		facts.event = "late";
		facts.since = since;
		snprintf(noted, sizeof(noted), "%lld", (long long)since);
	} else {
		hhmm(last, at, sizeof(at));
		snprintf(msg, sizeof(msg),
			 "feed %s of partner %s recovered: a file was imported at %s", f->name,
			 partner, at);
		facts.event = "recovered";
		facts.since = (time_t)strtoll(noted, NULL, 10);
		noted[0] = '\0';
	}
	if (ledger_note_set(lc->l, key.text, noted) < 0)
		return;
	log_simple(late ? LOG_WARN : LOG_INFO, late ? "feed_late" : "feed_recovered", "%s", msg);
	if (lc->c->alert)
		alert_run(lc->c->alert, &facts);
}

static int told(const long long *ids, size_t n, long long id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* a file row: id, partner, feed, name, message, time (failed: finished; deferred: received) */
struct file_rows {
	struct late_check *lc;
	const char *event;
	long long *ids;
	size_t n;
	time_t mark;
};

static void tell_file(void *ctx, size_t n, const char *const *col)
{
	struct file_rows *r = ctx;
	struct expect *x = r->lc->x;
	long long id = strtoll(col[0], NULL, 10);
	time_t t = (time_t)strtoll(col[5], NULL, 10);
	int failed = r->event[0] == 'f';
	char msg[1400];
	struct alert_facts facts = {r->event, col[1], col[2], col[3], msg, id, t};

	(void)n;
	if (failed && t == x->failed_mark && told(x->failed_told, x->nfailed_told, id))
		return;
	if (failed) {
		snprintf(msg, sizeof(msg), "file %s (id %lld) of %s/%s failed: %s", col[3], id,
			 col[1], col[2], col[4]);
		if (t > r->mark) {
			r->mark = t;
			r->n = 0;
		}
	} else {
		snprintf(msg, sizeof(msg),
			 "file %s (id %lld) of %s/%s is deferred since it came: %s", col[3], id,
			 col[1], col[2], col[4]);
	}
	if (failed) { /* the ids of the newest second, told apart at the next look */
		r->ids = xreallocarray(r->ids, r->n + 1, sizeof(*r->ids));
		r->ids[r->n++] = id;
	}
	alert_run(r->lc->c->alert, &facts);
}

void expect_check(struct expect *x, const struct conf *c, struct ledger *l, time_t now)
{
	struct late_check lc = {x, c, l, now};
	struct file_rows failed = {&lc, "failed", NULL, 0, x->failed_mark};
	struct file_rows deferred = {&lc, "deferred", NULL, 0, 0};

	x->late = 0;
	expect_each_pair(c, check_pair, &lc);
	if (c->alert == NULL)
		return; /* failed and deferred files are in the log already */
	/* failed files: each told once; the ids of the newest second are kept to tell them apart */
	if (x->nfailed_told) {
		failed.ids = xreallocarray(NULL, x->nfailed_told, sizeof(long long));
		memcpy(failed.ids, x->failed_told, x->nfailed_told * sizeof(long long));
		failed.n = x->nfailed_told;
	}
	ledger_rows(l,
		    "SELECT id, partner, feed, name, message, finished FROM files WHERE state = "
		    "'failed' AND finished >= ? ORDER BY finished, id",
		    tell_file, &failed, "i", (long long)x->failed_mark);
	free(x->failed_told);
	x->failed_told = failed.ids;
	x->nfailed_told = failed.n;
	x->failed_mark = failed.mark;
	/* deferred files: told as they pass alert_deferred since they came, deferred (or being
	   tried again after a deferral) at that moment: each passes it once */
	if (x->deferred_mark == 0)
		x->deferred_mark = x->started - (time_t)c->alert_deferred;
	if (now - (time_t)c->alert_deferred > x->deferred_mark) {
		ledger_rows(
		    l,
		    "SELECT id, partner, feed, name, message, received FROM files WHERE state "
		    "IN ('deferred','received','processing','submitting') AND attempts > 0 AND "
		    "received > ? AND received <= ? ORDER BY id",
		    tell_file, &deferred, "ii", (long long)x->deferred_mark,
		    (long long)(now - (time_t)c->alert_deferred));
		x->deferred_mark = now - (time_t)c->alert_deferred;
	}
}
