/*
 * dropgate status [-c FILE] [--json] [--watch]: what the ledger says now,
 * read beside a running daemon (SQLite's WAL lets both in): the daemon's pid,
 * a pause and why, files in flight, deferred and recent, and each export's
 * last and next run, late feeds. --watch shows it again every second: redrawn
 * with progress bars on a terminal, as plain blocks of lines otherwise.
 */
#include "config.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/status_progress.h"
#include "sift/counts.h"
#include "export/run.h"
#include "lib/conf.h"
#include "queue/ledger.h"
#include "queue/nodes.h"
#include "queue/notes.h"

static const struct command_option status_options[] = {
    {"json", 'j', no_argument},
    {"watch", 'w', no_argument},
    {NULL, 0, 0},
};

const struct command_args status_args = {
    .usage = "usage: dropgate status [-c FILE] [--json] [--watch]\n"
	     "Files in flight with progress, recent results, deferred files.\n",
    .options = status_options,
};

struct file_list {
	struct ledger *l;
	json_t *list;
	const struct conf *progress; /* set: each file with its progress (in flight) */
};

/* one look at the ledger */
struct snapshot {
	struct file_list in, recent, deferred;
	char paused[512], pid[32];
	json_t *exports;
	json_t *late; /* status_progress.h */
	json_t *nodes; /* every node sharing the ledger, its lease and what it holds */
};

static void node_json(void *ctx, const struct ledger_node *n)
{
	char started[32], renewed[32];

	iso_or_dash((time_t)n->started, started);
	iso_or_dash((time_t)n->renewed, renewed);
	json_array_append_new(
	    ctx, json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:b,s:I,s:I}", "name", n->name, "host",
			   n->host, "pid", (json_int_t)n->pid, "epoch", (json_int_t)n->epoch,
			   "started", started, "renewed", renewed, "lease",
			   (json_int_t)n->lease, "lease_age", (json_int_t)n->age, "alive",
			   n->alive, "files_held", (json_int_t)n->held, "lanes_held",
			   (json_int_t)n->lanes));
}

static json_t *file_json(struct ledger *l, const struct ledger_file *f)
{
	char r[32], fin[32], next[32];
	json_t *o, *counts = counts_json(l, f->id); /* a sequence's file, per target */

	iso_or_dash(f->received, r);
	iso_or_dash(f->finished, fin);
	iso_or_dash(f->next_try, next);
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:s}", "id",
			 (json_int_t)f->id, "partner", f->partner, "feed", f->feed, "file", f->name,
			 "state", f->state, "rows", (json_int_t)f->rows, "rows_ok",
			 (json_int_t)f->rows_ok, "rows_rejected", (json_int_t)f->rows_rejected,
			 "batches", (json_int_t)f->batches, "batches_done",
			 (json_int_t)ledger_batches_done(l, f->id), "received", r, "finished", fin,
			 "next_try", next, "message", f->message);
	if (counts)
		json_object_update(o, counts);
	json_decref(counts);
	return o;
}

static void collect(void *ctx, const struct ledger_file *f)
{
	struct file_list *s = ctx;
	json_t *o = file_json(s->l, f);

	if (s->progress)
		json_object_set_new(o, "progress", status_progress(s->l, s->progress, f));
	json_array_append_new(s->list, o);
}

static json_t *export_json(struct ledger *l, const struct export *e)
{
	struct note_key key = { "" };
	char last[64] = "", outcome[256] = "", mark[600] = "", lt[32], nt[32];
	time_t lr, next;

	ledger_note_get(l, note_export_last_run(&key, e->name), last, sizeof(last));
	ledger_note_get(l, note_export_outcome(&key, e->name), outcome, sizeof(outcome));
	ledger_note_get(l, note_export_watermark(&key, e->name), mark, sizeof(mark));
	lr = (time_t)strtoll(last, NULL, 10);
	next = export_next_run(e, lr);
	iso_or_dash(lr, lt);
	iso_or_dash(next ? next : time(NULL), nt);
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", e->name, "last_run", lt, "outcome",
			 outcome, "next_run", nt, "watermark", mark);
}

static void take_snapshot(struct ledger *l, const struct conf *c, struct snapshot *s)
{
	s->in = (struct file_list){l, json_array(), c};
	s->recent = (struct file_list){l, json_array(), NULL};
	s->deferred = (struct file_list){l, json_array(), NULL};
	s->late = status_late(l);
	ledger_each(l, "state IN ('received','processing','submitting')", 1, 1000, collect, &s->in);
	ledger_each(l, "state NOT IN ('received','processing','submitting','deferred')", 0, 20,
		    collect, &s->recent);
	ledger_each(l, "state = 'deferred'", 1, 1000, collect, &s->deferred);
	ledger_note_get(l, note_paused(), s->paused, sizeof(s->paused));
	ledger_note_get(l, note_daemon_pid(), s->pid, sizeof(s->pid));
	s->nodes = json_array();
	ledger_nodes(l, node_json, s->nodes);
	s->exports = json_array();
	for (size_t i = 0; i < c->nexports; i++)
		json_array_append_new(s->exports, export_json(l, &c->exports[i]));
}

/* print_json: the snapshot as one JSON object; the snapshot is gone after */
static void print_json(struct snapshot *s)
{
	json_t *all = json_pack("{s:i,s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:o}", "schema", 1, "in_flight",
				s->in.list, "recent", s->recent.list, "deferred", s->deferred.list,
				"exports", s->exports, "late", s->late, "paused", s->paused,
				"daemon_pid", s->pid, "nodes", s->nodes);

	json_dumpf(all, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(all);
}

/* kind: 0 in flight (batches confirmed), 1 results (rows), 2 deferred (next try) */
static void print_files(const char *title, json_t *list, int kind, int tty)
{
	size_t i;
	json_t *f;

	print_safe("%s (%zu)\n", title, json_array_size(list));
	json_array_foreach(list, i, f)
	{
		const char *name = json_string_value(json_object_get(f, "file"));
		const char *message = json_string_value(json_object_get(f, "message"));
		print_safe("  %-6lld %-10s %-12s %-12s %-34s",
			   (long long)json_integer_value(json_object_get(f, "id")),
			   json_string_value(json_object_get(f, "state")),
			   json_string_value(json_object_get(f, "partner")),
			   json_string_value(json_object_get(f, "feed")), name);
		if (kind == 0)
			print_safe(
			    " batches %lld/%lld",
			    (long long)json_integer_value(json_object_get(f, "batches_done")),
			    (long long)json_integer_value(json_object_get(f, "batches")));
		else if (kind == 1)
			print_safe(
			    " rows %lld ok %lld rejected %lld",
			    (long long)json_integer_value(json_object_get(f, "rows")),
			    (long long)json_integer_value(json_object_get(f, "rows_ok")),
			    (long long)json_integer_value(json_object_get(f, "rows_rejected")));
		else
			print_safe(" next try %s",
				   json_string_value(json_object_get(f, "next_try")));
		print_safe("\n");
		if (kind == 0 && json_object_get(f, "progress"))
			status_print_progress(json_object_get(f, "progress"), tty);
		if (kind != 0 && *message)
			print_safe("         %s\n", message);
	}
}

/* print_text: the snapshot for a terminal (cleared first when watching); gone after */
static void print_text(struct snapshot *s, int watch)
{
	int tty = isatty(1);

	if (watch && tty)
		printf("\033[H\033[2J");
	else if (watch)
		printf("\n");
	print_safe("dropgate: %s%s\n", s->pid[0] ? "running as pid " : "not running", s->pid);
	if (s->paused[0])
		print_safe("claiming paused: %s\n", s->paused);
	status_print_late(s->late);
	for (size_t i = 0; i < json_array_size(s->nodes); i++) {
		json_t *n = json_array_get(s->nodes, i);
		print_safe("node %s (host %s, pid %lld, epoch %lld): holds %lld files in %lld lanes, "
			   "lease renewed %llds ago of %llds (%s)\n",
			   json_string_value(json_object_get(n, "name")),
			   json_string_value(json_object_get(n, "host")),
			   (long long)json_integer_value(json_object_get(n, "pid")),
			   (long long)json_integer_value(json_object_get(n, "epoch")),
			   (long long)json_integer_value(json_object_get(n, "files_held")),
			   (long long)json_integer_value(json_object_get(n, "lanes_held")),
			   (long long)json_integer_value(json_object_get(n, "lease_age")),
			   (long long)json_integer_value(json_object_get(n, "lease")),
			   json_is_true(json_object_get(n, "alive")) ? "alive" : "expired");
	}
	print_files("in flight", s->in.list, 0, tty);
	print_files("deferred", s->deferred.list, 2, tty);
	print_files("recent results", s->recent.list, 1, tty);
	print_safe("exports (%zu)\n", json_array_size(s->exports));
	for (size_t i = 0; i < json_array_size(s->exports); i++) {
		json_t *x = json_array_get(s->exports, i);
		print_safe("  %-12s last %s (%s), next %s, watermark %s\n",
			   json_string_value(json_object_get(x, "name")),
			   json_string_value(json_object_get(x, "last_run")),
			   json_string_value(json_object_get(x, "outcome")),
			   json_string_value(json_object_get(x, "next_run")),
			   json_string_value(json_object_get(x, "watermark")));
	}
	json_decref(s->exports);
	json_decref(s->nodes);
	json_decref(s->in.list);
	json_decref(s->recent.list);
	json_decref(s->deferred.list);
	json_decref(s->late);
}

int cmd_status(struct command_ctx *cx)
{
	int json = command_opt(cx, "json") != NULL, watch = command_opt(cx, "watch") != NULL;

	do {
		struct snapshot s;
		take_snapshot(cx->ledger, cx->conf, &s);
		if (json)
			print_json(&s);
		else
			print_text(&s, watch);
		fflush(stdout);
		if (watch)
			sleep(1);
	} while (watch);
	return 0;
}
