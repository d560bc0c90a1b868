#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "cmd/status_progress.h"
#include "lib/conf.h"
#include "ops/progress.h"
#include "queue/ledger_rows.h"
#include "queue/notes.h"
#include "util/xalloc.h"

struct target_rows {
	json_t *list;
	long done;	       /* batches done over all targets */
	long long first, last; /* when the first and the last batch were confirmed */
};

static void target_row(void *ctx, size_t n, const char *const *col)
{
	struct target_rows *t = ctx;

	(void)n;
	t->done += atol(col[1]);
	if (col[2][0] && (t->first == 0 || atoll(col[2]) < t->first))
		t->first = atoll(col[2]);
	if (col[3][0] && atoll(col[3]) > t->last)
		t->last = atoll(col[3]);
	json_array_append_new(t->list,
			      json_pack("{s:s,s:I,s:I}", "target", col[0], "batches_done",
					(json_int_t)atol(col[1]), "batches", (json_int_t)0));
}

static void since_row(void *ctx, size_t n, const char *const *col)
{
	(void)n;
	*(long long *)ctx = atoll(col[0]);
}

static json_t *number_or_null(double v, int known)
{
	return known ? json_real(v) : json_null();
}

/* parsed_counts: the parser child's counts (F.result.json in its out dir), which the ledger
   takes only when the file ends */
static void parsed_counts(const struct conf *c, struct ledger_file *f)
{
	char *path = xasprintf("%s/work/%lld/.out/%s.result.json", c->state, f->id, f->name);
	json_t *r = json_load_file(path, 0, NULL);

	free(path);
	if (r == NULL)
		return;
	f->rows = (long)json_integer_value(json_object_get(r, "rows"));
	f->rows_rejected = (long)json_integer_value(json_object_get(r, "rows_rejected"));
	f->rows_ok = f->rows - f->rows_rejected;
	f->batches = (long)json_integer_value(json_object_get(r, "batches"));
	json_decref(r);
}

/* submitting: batches confirmed per target; rows done counted as whole batches of the file */
static void submitting(struct ledger *l, const struct conf *c, const struct ledger_file *lf,
		       json_t *p)
{
	struct ledger_file file = *lf, *f = &file;
	const struct feed *feed = conf_feed(c, f->feed);
	struct target_rows t = {json_array(), 0, 0, 0};
	long long since = 0, now = (long long)time(NULL);
	size_t ntargets = feed ? feed->targets.n : 1, i;
	long total;
	double rows_done, rate = 0;
	json_t *x;

	if (f->batches == 0)
		parsed_counts(c, f);
	total = f->batches * (long)(ntargets ? ntargets : 1);
	ledger_rows(
	    l,
	    "SELECT target, sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END), min(CASE WHEN state = 'done' THEN changed "
	    "END), max(CASE WHEN state = 'done' THEN changed END) FROM batches WHERE file_id "
	    "= ? GROUP BY target ORDER BY target",
	    target_row, &t, "i", f->id);
	/* targets not begun yet count too, with none done */
	for (size_t k = 0; feed && k < feed->targets.n; k++) {
		int found = 0;
		for (i = 0; i < json_array_size(t.list); i++) {
			x = json_array_get(t.list, i);
			found |= strcmp(json_string_value(json_object_get(x, "target")),
					feed->targets.v[k]) == 0;
		}
		if (!found)
			json_array_append_new(t.list,
					      json_pack("{s:s,s:I,s:I}", "target",
							feed->targets.v[k], "batches_done",
							(json_int_t)0, "batches", (json_int_t)0));
	}
	for (i = 0; i < json_array_size(t.list); i++)
		json_object_set_new(json_array_get(t.list, i), "batches",
				    json_integer((json_int_t)f->batches));
	ledger_rows(l, "SELECT max(ts) FROM events WHERE file_id = ? AND state = 'submitting'",
		    since_row, &since, "i", f->id);
	rows_done = total ? (double)f->rows_ok * (double)t.done / (double)total : 0;
	if (rows_done > (double)f->rows_ok)
		rows_done = (double)f->rows_ok;
	if (since && now > since && t.done)
		rate = rows_done / (double)(now - since);
	json_object_set_new(p, "phase", json_string("submitting"));
	json_object_set_new(p, "rows_parsed", json_integer((json_int_t)f->rows));
	json_object_set_new(p, "rows_total", json_integer((json_int_t)f->rows));
	json_object_set_new(p, "rows_done", json_integer((json_int_t)rows_done));
	json_object_set_new(p, "targets", t.list);
	json_object_set_new(p, "rows_per_second", json_real(rate));
	json_object_set_new(
	    p, "eta_seconds",
	    number_or_null(rate > 0 ? ((double)f->rows_ok - rows_done) / rate : 0, rate > 0));
}

static void parsing(const struct conf *c, const struct ledger_file *f, json_t *p)
{
	char *dir = xasprintf("%s/work/%lld/.out", c->state, f->id);
	struct progress_read r;
	int known = progress_load(dir, &r) == 0;
	double secs = known ? (double)(r.updated_ms - r.started_ms) / 1000.0 : 0;
	double fraction = known && r.total ? (double)r.done / (double)r.total : 0;
	double rate = secs > 0 ? (double)r.rows / secs : 0;

	free(dir);
	if (fraction > 1)
		fraction = 1;
	json_object_set_new(p, "phase", json_string(known ? "parsing" : "waiting"));
	json_object_set_new(p, "rows_parsed", json_integer(known ? (json_int_t)r.rows : 0));
	/* the rows to come, estimated from the bytes read so far (exact at the end) */
	json_object_set_new(p, "rows_total",
			    fraction > 0.001 ? json_integer((json_int_t)((double)r.rows / fraction))
					     : json_null());
	json_object_set_new(p, "bytes_read", json_integer(known ? (json_int_t)r.done : 0));
	json_object_set_new(p, "bytes_total", json_integer(known ? (json_int_t)r.total : 0));
	json_object_set_new(p, "rows_done", json_integer(0));
	json_object_set_new(p, "targets", json_array());
	json_object_set_new(p, "rows_per_second", json_real(rate));
	json_object_set_new(
	    p, "eta_seconds",
	    number_or_null(fraction > 0 ? secs / fraction - secs : 0, known && fraction > 0.001));
}

json_t *status_progress(struct ledger *l, const struct conf *c, const struct ledger_file *f)
{
	json_t *p = json_object();

	if (strcmp(f->state, ST_SUBMITTING) == 0)
		submitting(l, c, f, p);
	else
		parsing(c, f, p);
	return p;
}

static void late_row(void *ctx, size_t n, const char *const *col)
{
	json_t *list = ctx;
	const char *key = col[0] + strlen(NOTE_LATE_PREFIX), *slash = strrchr(key, '/');
	char partner[256], since[32];

	(void)n;
	if (slash == NULL || (size_t)(slash - key) >= sizeof(partner))
		return;
	memcpy(partner, key, (size_t)(slash - key));
	partner[slash - key] = '\0';
	iso_or_dash((time_t)atoll(col[1]), since);
	json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "partner", partner, "feed",
					      slash + 1, "since", since));
}

json_t *status_late(struct ledger *l)
{
	json_t *list = json_array();

	ledger_rows(l,
		    "SELECT key, value FROM notes WHERE key LIKE '" NOTE_LATE_PREFIX
		    "%' AND value != '' ORDER BY key",
		    late_row, list, "");
	return list;
}

static long long integer(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

void status_print_progress(json_t *p, int tty)
{
	const char *phase = json_string_value(json_object_get(p, "phase"));
	json_t *total = json_object_get(p, "rows_total"), *eta = json_object_get(p, "eta_seconds");
	double rate = json_real_value(json_object_get(p, "rows_per_second"));
	char bar[64] = "";
	size_t i;
	json_t *t;

	if (strcmp(phase, "waiting") == 0) {
		print_safe("         waiting for the parser\n");
		return;
	}
	if (strcmp(phase, "parsing") == 0) {
		double f = integer(p, "bytes_total") ? (double)integer(p, "bytes_read") /
							   (double)integer(p, "bytes_total")
						     : 0;
		if (tty)
			progress_bar(bar, sizeof(bar), f, 20);
		print_safe("         parsing %s rows %lld of %s%lld", bar,
			   integer(p, "rows_parsed"), json_is_integer(total) ? "" : "~",
			   (long long)json_integer_value(total));
	} else {
		print_safe("         submitting rows %lld of %lld", integer(p, "rows_done"),
			   (long long)json_integer_value(total));
		json_array_foreach(json_object_get(p, "targets"), i, t)
		{
			if (tty)
				progress_bar(bar, sizeof(bar),
					     integer(t, "batches")
						 ? (double)integer(t, "batches_done") /
						       (double)integer(t, "batches")
						 : 0,
					     20);
			print_safe(", %s %s batches %lld/%lld",
				   json_string_value(json_object_get(t, "target")), bar,
				   integer(t, "batches_done"), integer(t, "batches"));
		}
	}
	print_safe(", %.0f rows/s", rate);
	if (json_is_number(eta))
		print_safe(", ETA %.0f s", json_number_value(eta));
	print_safe("\n");
}

void status_print_late(json_t *late)
{
	size_t i;
	json_t *x;

	if (json_array_size(late) == 0)
		return;
	print_safe("late feeds (%zu)\n", json_array_size(late));
	for (i = 0; i < json_array_size(late); i++) {
		x = json_array_get(late, i);
		print_safe("  %s/%s late since %s\n",
			   json_string_value(json_object_get(x, "partner")),
			   json_string_value(json_object_get(x, "feed")),
			   json_string_value(json_object_get(x, "since")));
	}
}
