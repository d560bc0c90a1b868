/*
 * The daemon and its operator commands: run, status, show, redrop, partner add.
 * status, show and redrop read and write the ledger directly, beside a running
 * daemon (SQLite's WAL lets both in); redrop queues by ledger entry and work
 * directory, which the daemon's dispatcher picks up.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cmd/commands.h"
#include "commerce/answer.h"
#include "claim/claim.h"
#include "daemon/daemon.h"
#include "queue/ledger.h"
#include "queue/notes.h"
#include "queue/spool.h"
#include "export/bi.h"
#include "export/orders.h"
#include "export/run.h"
#include "commerce/client.h"
#include "lib/conf.h"
#include "lib/report.h"
#include "util/buf.h"
#include "util/crashpoint.h"
#include "util/xalloc.h"

/* common: -c FILE and --help; the configuration loaded, or NULL (usage told). */
static struct conf *setup(int argc, char **argv, const char *usage, const struct option *extra,
			  int (*on_opt)(int opt, void *ctx), void *ctx, int *status)
{
	struct option opts[16];
	const char *confpath = NULL;
	char shorts[64] = "c:h";
	struct buf err = BUF_INIT(64 * 1024);
	struct conf *c;
	size_t n = 0;
	int opt;

	opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (const struct option *o = extra; o && o->name; o++) {
		size_t len = strlen(shorts);
		opts[n++] = *o;
		shorts[len] = (char)o->val;
		shorts[len + 1] = '\0';
		if (o->has_arg)
			strcat(shorts, ":");
	}
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	*status = EXIT_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (opt == 'c') {
			confpath = optarg;
		} else if (opt == 'h') {
			fputs(usage, stdout);
			*status = 0;
			return NULL;
		} else if (opt == '?' || on_opt == NULL || on_opt(opt, ctx) < 0) {
			fputs(usage, stderr);
			return NULL;
		}
	}
	c = conf_load(config_path(confpath), &err);
	if (c == NULL)
		fputs(buf_cstr(&err), stderr);
	buf_release(&err);
	return c;
}

static struct ledger *open_ledger(const struct conf *c)
{
	char *path = xasprintf("%s/ledger.db", c->state);
	struct buf err = BUF_INIT(4096);
	struct ledger *l = NULL;

	if (access(path, F_OK) == 0)
		l = ledger_open(path, &err);
	else
		fprintf(stderr, "dropgate: no ledger at %s (has `dropgate run` started?)\n", path);
	if (l == NULL && err.len)
		fprintf(stderr, "dropgate: %s\n", buf_cstr(&err));
	free(path);
	buf_release(&err);
	return l;
}

int cmd_run(int argc, char **argv)
{
	static const char usage[] = "usage: dropgate run [-c FILE]\n"
				    "The daemon: watch the spool, process, submit, report, archive.\n"
				    "SIGTERM/SIGINT stop it cleanly, SIGHUP reloads the configuration.\n";
	const char *confpath = NULL;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
			confpath = argv[++i];
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	return daemon_run(config_path(confpath));
}

/* --- status ------------------------------------------------------------------------- */

struct status_ctx {
	struct ledger *l;
	json_t *list;
	int json;
};

static void iso(time_t t, char out[32])
{
	if (t)
		iso_time(t, out);
	else
		snprintf(out, 32, "-");
}

static json_t *file_json(struct ledger *l, const struct ledger_file *f)
{
	char r[32], fin[32], next[32];

	iso(f->received, r);
	iso(f->finished, fin);
	iso(f->next_try, next);
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:s,s:s}", "id",
			 (json_int_t)f->id, "partner", f->partner, "feed", f->feed, "file", f->name,
			 "state", f->state, "rows", (json_int_t)f->rows, "rows_ok",
			 (json_int_t)f->rows_ok, "rows_rejected", (json_int_t)f->rows_rejected,
			 "batches", (json_int_t)f->batches, "batches_done",
			 (json_int_t)ledger_batches_done(l, f->id), "received", r, "finished", fin,
			 "next_try", next, "message", f->message);
}

static void collect(void *ctx, const struct ledger_file *f)
{
	struct status_ctx *s = ctx;

	json_array_append_new(s->list, file_json(s->l, f));
}

/*
 * out: printf for the operator's terminal. Names, messages and answers come
 * from partners and Commerce: their control characters (C0, DEL, C1) are
 * shown as \xNN / \u00NN, never sent to the terminal to run.
 */
static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	struct buf b = BUF_INIT(BUF_NOCAP), shown = BUF_INIT(BUF_NOCAP);
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < b.len; i++) {
		unsigned char ch = (unsigned char)b.data[i];
		if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
			buf_printf(&shown, "\\x%02x", ch);
		else if (ch == 0xc2 && i + 1 < b.len && (unsigned char)b.data[i + 1] >= 0x80 &&
			 (unsigned char)b.data[i + 1] <= 0x9f)
			buf_printf(&shown, "\\u00%02x", (unsigned char)b.data[++i]);
		else
			buf_addch(&shown, (char)ch);
	}
	fwrite(shown.data, 1, shown.len, stdout);
	buf_release(&b);
	buf_release(&shown);
}

static void print_files(const char *title, json_t *list, int kind)
{
	size_t i;
	json_t *f;

	out("%s (%zu)\n", title, json_array_size(list));
	json_array_foreach(list, i, f) {
		const char *name = json_string_value(json_object_get(f, "file"));
		out("  %-6lld %-10s %-12s %-12s %-34s", (long long)json_integer_value(json_object_get(f, "id")),
		       json_string_value(json_object_get(f, "state")),
		       json_string_value(json_object_get(f, "partner")),
		       json_string_value(json_object_get(f, "feed")), name);
		if (kind == 0)
			out(" batches %lld/%lld", (long long)json_integer_value(json_object_get(f, "batches_done")),
			       (long long)json_integer_value(json_object_get(f, "batches")));
		else if (kind == 1)
			out(" rows %lld ok %lld rejected %lld",
			       (long long)json_integer_value(json_object_get(f, "rows")),
			       (long long)json_integer_value(json_object_get(f, "rows_ok")),
			       (long long)json_integer_value(json_object_get(f, "rows_rejected")));
		else
			out(" next try %s", json_string_value(json_object_get(f, "next_try")));
		out("\n");
		if (kind != 0 && *json_string_value(json_object_get(f, "message")))
			out("         %s\n", json_string_value(json_object_get(f, "message")));
	}
}

static int status_opt(int opt, void *ctx)
{
	int *flags = ctx;

	if (opt == 'j')
		flags[0] = 1;
	else if (opt == 'w')
		flags[1] = 1;
	else
		return -1;
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const struct option extra[] = { { "json", no_argument, NULL, 'j' },
					       { "watch", no_argument, NULL, 'w' },
					       { NULL, 0, NULL, 0 } };
	int flags[2] = { 0, 0 }, status;
	struct conf *c = setup(argc, argv,
			       "usage: dropgate status [-c FILE] [--json] [--watch]\n"
			       "Files in flight with progress, recent results, deferred files.\n",
			       extra, status_opt, flags, &status);
	struct ledger *l;

	if (c == NULL)
		return status;
	l = open_ledger(c);
	if (l == NULL) {
		conf_free(c);
		return EXIT_USAGE;
	}
	do {
		struct status_ctx in = { l, json_array(), flags[0] }, recent = { l, json_array(), 0 },
				  deferred = { l, json_array(), 0 };
		char paused[512] = "", pid[32] = "";
		json_t *all;

		ledger_each(l, "state IN ('received','processing','submitting')", 1, 1000, collect, &in);
		ledger_each(l, "state NOT IN ('received','processing','submitting','deferred')", 0, 20,
			    collect, &recent);
		ledger_each(l, "state = 'deferred'", 1, 1000, collect, &deferred);
		ledger_note_get(l, note_paused(), paused, sizeof(paused));
		ledger_note_get(l, note_daemon_pid(), pid, sizeof(pid));
		json_t *exports = json_array();
		for (size_t i = 0; i < c->nexports; i++) {
			const struct export *e = &c->exports[i];
			struct note_key key;
			char last[64] = "", outcome[256] = "", mark[600] = "", lt[32], nt[32];
			time_t lr;
			ledger_note_get(l, note_export_last_run(&key, e->name), last, sizeof(last));
			ledger_note_get(l, note_export_outcome(&key, e->name), outcome, sizeof(outcome));
			ledger_note_get(l, note_export_watermark(&key, e->name), mark, sizeof(mark));
			lr = (time_t)strtoll(last, NULL, 10);
			iso(lr, lt);
			iso(export_next_run(e, lr) ? export_next_run(e, lr) : time(NULL), nt);
			json_array_append_new(exports, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", e->name,
								 "last_run", lt, "outcome", outcome,
								 "next_run", nt, "watermark", mark));
		}
		if (flags[0]) {
			all = json_pack("{s:o,s:o,s:o,s:o,s:s,s:s}", "in_flight", in.list, "recent",
					recent.list, "deferred", deferred.list, "exports", exports,
					"paused", paused, "daemon_pid", pid);
			json_dumpf(all, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(all);
		} else {
			if (flags[1])
				printf("\033[H\033[2J");
			out("dropgate: %s%s\n", pid[0] ? "running as pid " : "not running", pid);
			if (paused[0])
				out("claiming paused: %s\n", paused);
			print_files("in flight", in.list, 0);
			print_files("deferred", deferred.list, 2);
			print_files("recent results", recent.list, 1);
			out("exports (%zu)\n", json_array_size(exports));
			for (size_t i = 0; i < json_array_size(exports); i++) {
				json_t *x = json_array_get(exports, i);
				out("  %-12s last %s (%s), next %s, watermark %s\n",
				       json_string_value(json_object_get(x, "name")),
				       json_string_value(json_object_get(x, "last_run")),
				       json_string_value(json_object_get(x, "outcome")),
				       json_string_value(json_object_get(x, "next_run")),
				       json_string_value(json_object_get(x, "watermark")));
			}
			json_decref(exports);
			json_decref(in.list);
			json_decref(recent.list);
			json_decref(deferred.list);
		}
		fflush(stdout);
		if (flags[1])
			sleep(2);
	} while (flags[1]);
	ledger_close(l);
	conf_free(c);
	return 0;
}

/* --- show ----------------------------------------------------------------------------- */

static void print_event(void *ctx, time_t ts, const char *state, const char *message)
{
	char t[32];

	(void)ctx;
	iso_time(ts, t);
	out("  %s  %-10s %s\n", t, state, message);
}

/* print_request: one request of a batch; a batch Commerce refused row by row has several */
static void print_request(void *ctx, const struct ledger_request *r)
{
	struct answer a;
	char which[160] = "";

	(void)ctx;
	if (r->sub > 0)
		snprintf(which, sizeof(which), ", request %u", r->sub + 1);
	out("  batch %u to %s%s (rows %s): ", r->seq, r->target, which, r->rows);
	answer_init(&a);
	if (strcmp(r->state, "sent") == 0)
		out("sent, no answer yet\n");
	else if (answer_from_json(&a, r->answer) == 0) {
		out("HTTP %ld, %lu rows processed, %zu rows rejected%s%s\n", a.http_status, a.processed,
		    a.nrows, a.message.len ? ": " : "", buf_cstr(&a.message));
		for (size_t i = 0; i < a.nrows; i++)
			out("    row %lu: %s\n", a.rows[i].row, a.rows[i].message);
	}
	answer_release(&a);
}

/* open_file: the ID argument's ledger entry, or NULL with the reason told. */
static struct ledger *open_file(const struct conf *c, int argc, char **argv, const char *usage,
				const char *cmd, long long *id, struct ledger_file *f)
{
	struct ledger *l;
	char *end;

	if (optind + 1 != argc || (*id = strtoll(argv[optind], &end, 10)) <= 0 || *end) {
		fputs(usage, stderr);
		return NULL;
	}
	l = open_ledger(c);
	if (l && ledger_get(l, *id, f) < 0) {
		fprintf(stderr, "dropgate %s: no file %lld\n", cmd, *id);
		ledger_close(l);
		l = NULL;
	}
	return l;
}

int cmd_show(int argc, char **argv)
{
	static const char usage[] = "usage: dropgate show [-c FILE] ID\nOne file's whole history.\n";
	int status;
	struct conf *c = setup(argc, argv, usage, NULL, NULL, NULL, &status);
	struct ledger *l;
	struct ledger_file f;
	long long id;
	char r[32], fin[32];

	if (c == NULL)
		return status;
	l = open_file(c, argc, argv, usage, "show", &id, &f);
	if (l == NULL) {
		conf_free(c);
		return EXIT_USAGE;
	}
	iso(f.received, r);
	iso(f.finished, fin);
	out("file %lld: %s (partner %s, feed %s)\n  state %s%s%s\n  rows %ld, ok %ld, rejected %ld, "
	       "batches %ld (%ld confirmed)\n  sha256 %s, %lld bytes\n  received %s, finished %s\n"
	       "  now at %s\n",
	       f.id, f.name, f.partner, f.feed, f.state, f.message[0] ? ": " : "", f.message, f.rows,
	       f.rows_ok, f.rows_rejected, f.batches, ledger_batches_done(l, id), f.sha256, f.size, r,
	       fin, f.path);
	{
		char *rdir = reports_dir(c, conf_feed(c, f.feed), f.partner);
		char *report = report_result_path(rdir, f.name);
		out("  report %s\nhistory:\n", report);
		free(report);
		free(rdir);
	}
	ledger_events(l, id, print_event, NULL);
	printf("Commerce's answers:\n");
	ledger_requests(l, id, print_request, NULL);
	ledger_close(l);
	conf_free(c);
	return 0;
}

/* --- redrop ------------------------------------------------------------------------------ */

static int gunzip_to(const char *from, const char *to, struct buf *err)
{
	gzFile in = gzopen(from, "rb");
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	char block[65536];
	int n, rc = -1;

	if (in && out >= 0) {
		while ((n = gzread(in, block, sizeof(block))) > 0) {
			if (write(out, block, (size_t)n) != n)
				break;
			crash_point("redrop-mid-copy");
		}
		if (n == 0 && durable_fsync(out) == 0)
			rc = 0;
	}
	if (rc < 0)
		buf_printf(err, "cannot restore %s: %s", from, strerror(errno));
	if (in)
		gzclose(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* as_state_owner: a command that writes the state or the spool, run by root (sudo), becomes
 * the state directory's owner first: the daemon (User= in the unit) must own what it finds. */
static int as_state_owner(const struct conf *c, const char *cmd)
{
	struct stat st;

	if (geteuid() != 0 || stat(c->state, &st) < 0 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		fprintf(stderr, "dropgate %s: cannot become %s's owner (uid %u): %s\n", cmd, c->state,
			(unsigned)st.st_uid, strerror(errno));
		return -1;
	}
	return 0;
}

static int redrop_opt(int opt, void *ctx)
{
	if (opt != 'f')
		return -1;
	*(int *)ctx = 1;
	return 0;
}

int cmd_redrop(int argc, char **argv)
{
	static const struct option extra[] = { { "force", no_argument, NULL, 'f' },
					       { NULL, 0, NULL, 0 } };
	static const char usage[] = "usage: dropgate redrop [-c FILE] ID [--force]\n"
				    "Queue a failed file again; --force also a finished one.\n";
	int force = 0, status;
	struct conf *c = setup(argc, argv, usage, extra, redrop_opt, &force, &status);
	struct ledger *l;
	struct ledger_file f;
	struct buf err = BUF_INIT(4096);
	long long id, nid;
	char *wd = NULL, *to = NULL;
	size_t n;

	if (c == NULL)
		return status;
	if (as_state_owner(c, "redrop") < 0) {
		conf_free(c);
		return EXIT_USAGE;
	}
	l = open_file(c, argc, argv, usage, "redrop", &id, &f);
	if (l == NULL) {
		conf_free(c);
		return EXIT_USAGE;
	}
	if (strcmp(f.state, ST_FAILED) != 0 &&
	    !(force && (!strcmp(f.state, ST_DONE) || !strcmp(f.state, ST_PARTIAL) ||
			!strcmp(f.state, ST_DUPLICATE) || !strcmp(f.state, ST_STALE)))) {
		fprintf(stderr, "dropgate redrop: file %lld is %s: %s\n", id, f.state,
			force ? "only failed or finished files are queued again"
			      : "only failed files are queued again (--force for finished ones)");
		ledger_close(l);
		conf_free(c);
		return EXIT_USAGE;
	}
	/* the copy first, in a staging directory no row names yet; then one row that
	   names the whole copy: the daemon finishes that claim like any other */
	n = strlen(f.path);
	wd = claim_stage_dir(c, &err);
	to = wd ? xasprintf("%s/%s", wd, f.name) : NULL;
	if (wd == NULL ||
	    (n > 3 && strcmp(f.path + n - 3, ".gz") == 0 && strstr(f.path, "/archive/") &&
			     !(strlen(f.name) > 3 && !strcmp(f.name + strlen(f.name) - 3, ".gz"))
		     ? gunzip_to(f.path, to, &err)
		     : spool_link_or_copy(f.path, to, &err)) < 0 ||
	    fsync_dir(wd) < 0) {
		fprintf(stderr, "dropgate redrop: %s\n", buf_cstr(&err));
		if (wd)
			remove_tree(wd);
		status = EXIT_USAGE;
	} else {
		char msg[128];
		const char *feed = f.feed;
		snprintf(msg, sizeof(msg), "queued again from file %lld%s", id, force ? " (forced)" : "");
		if (ledger_add_group(l, f.partner, &feed, 1, f.name, to, f.size, 1, ST_RECEIVED, msg,
				     &nid) < 0) {
			fprintf(stderr, "dropgate redrop: the ledger cannot be written\n");
			remove_tree(wd);
			status = EXIT_USAGE;
		} else {
			printf("file %lld queued again as file %lld\n", id, nid);
			status = 0;
		}
	}
	free(wd);
	free(to);
	buf_release(&err);
	ledger_close(l);
	conf_free(c);
	return status;
}

static int fnmatch_ok(const char *pattern, const char *name)
{
	return fnmatch(pattern, name, 0) == 0;
}

/* --- partner add -------------------------------------------------------------------------- */

static int user_opt(int opt, void *ctx)
{
	if (opt != 'u')
		return -1;
	*(const char **)ctx = optarg;
	return 0;
}

static int make_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		fprintf(stderr, "dropgate partner add: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0) {
		fprintf(stderr, "dropgate partner add: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* make_outbound: what the daemon writes for the partner (reports, exports) lives in directories
 * the daemon owns, in the partner's group with set-group-ID: what the daemon creates there, even
 * under UMask=0027, is the partner's to read and no one else's. */
static int make_outbound(const struct conf *c, const char *name, const char *root, uid_t daemon,
			 gid_t partner)
{
	const mode_t mode = 02750;
	char *out = xasprintf("%s/outbound", root), *rep = xasprintf("%s/outbound/reports", root);
	int status = make_dir(out, daemon, partner, mode) < 0 || make_dir(rep, daemon, partner, mode) < 0;

	for (size_t i = 0; !status && i < c->nexports; i++) {
		const struct export *e = &c->exports[i];
		char *path = xasprintf("%s/%s", root, e->dir), *s;
		int matched = 0;
		for (size_t k = 0; k < e->partners.n; k++)
			matched |= fnmatch_ok(e->partners.v[k], name);
		for (s = path + strlen(root) + 1; matched && !status && (s = strchr(s, '/')) != NULL; s++) {
			*s = '\0';
			status = make_dir(path, daemon, partner, mode) < 0;
			*s = '/';
		}
		if (matched && !status)
			status = make_dir(path, daemon, partner, mode) < 0;
		free(path);
	}
	free(out);
	free(rep);
	return status;
}

int cmd_partner(int argc, char **argv)
{
	static const struct option extra[] = { { "user", required_argument, NULL, 'u' },
					       { NULL, 0, NULL, 0 } };
	static const char usage[] =
		"usage: dropgate partner add [-c FILE] NAME [--user USER]\n"
		"Create NAME's spool tree: the chroot root owned by root (0755), each feed's inbound\n"
		"directory writable by USER and readable by the daemon's group, outbound directories\n"
		"writable by the daemon and readable by USER.\n";
	const char *user = NULL;
	int status;
	struct conf *c;
	struct passwd *pw = NULL;
	struct stat st;
	gid_t daemon_gid;
	char *root;
	const char *name;

	if (argc < 2 || strcmp(argv[1], "add") != 0) {
		fputs(usage, argc > 1 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc > 1 && !strcmp(argv[1], "--help") ? 0 : EXIT_USAGE;
	}
	c = setup(argc - 1, argv + 1, usage, extra, user_opt, &user, &status);
	if (c == NULL)
		return status;
	if (optind + 1 != argc - 1 || strchr(argv[argc - 1], '/') || argv[argc - 1][0] == '.') {
		fputs(usage, stderr);
		conf_free(c);
		return EXIT_USAGE;
	}
	name = argv[argc - 1];
	if (user && (pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "dropgate partner add: no user %s (create it first: see README)\n", user);
		conf_free(c);
		return EXIT_USAGE;
	}
	/* the daemon's user and group: the ones that own the state directory */
	if (stat(c->state, &st) < 0) {
		st.st_uid = getuid();
		st.st_gid = getgid();
	}
	daemon_gid = st.st_gid;
	root = xasprintf("%s/%s", c->spool, name);
	status = make_dir(c->spool, 0, 0, 0755) < 0 || make_dir(root, 0, 0, 0755) < 0;
	for (size_t i = 0; !status && i < c->nfeeds; i++) {
		const struct feed *f = &c->feeds[i];
		char *path = xasprintf("%s/%s", root, f->dir), *s;
		int matched = 0;
		for (size_t k = 0; k < f->partners.n; k++)
			matched |= fnmatch_ok(f->partners.v[k], name);
		if (matched) {
			/* root-owned ancestors (a chroot wants them), the feed dir the partner's */
			for (s = path + strlen(root) + 1; !status && (s = strchr(s, '/')) != NULL; s++) {
				*s = '\0';
				status = make_dir(path, 0, 0, 0755) < 0;
				*s = '/';
			}
			if (!status)
				status = make_dir(path, pw ? pw->pw_uid : 0, daemon_gid, 02770) < 0;
		}
		free(path);
	}
	if (!status)
		status = make_outbound(c, name, root, st.st_uid, pw ? pw->pw_gid : daemon_gid);
	if (!status)
		printf("partner %s: %s ready%s%s\n", name, root, user ? " for user " : "", user ? user : "");
	free(root);
	conf_free(c);
	return status ? EXIT_USAGE : 0;
}

/* --- export -------------------------------------------------------------------------------- */

static int date_opt(int opt, void *ctx)
{
	if (opt != 'd')
		return -1;
	*(const char **)ctx = optarg;
	return 0;
}

/* export_now: one run of e, as its schedule would; what it wrote told. The exit status. */
static int export_now(const struct conf *c, const struct export *e, struct ledger *l,
		      const char *date, struct buf *err)
{
	struct export_outcome out;
	char yesterday[11];
	time_t now = time(NULL), y = now - 86400;
	const char *day = NULL; /* BI: the day, default yesterday; orders: no --date */
	struct tm tm;

	strftime(yesterday, sizeof(yesterday), "%Y-%m-%d", gmtime_r(&y, &tm));
	if (e->kind == EXPORT_BI)
		day = date ? date : yesterday;
	if (export_run(c, e, l, now, day, NULL, &out, err) < 0) {
		fprintf(stderr, "dropgate export %s: %s\n", e->name, buf_cstr(err));
		return day && strlen(day) != 10 ? EXIT_USAGE : EXIT_COMMERCE; /* not a day at all */
	}
	if (day)
		printf("%s/%s/%s/%s: %lu rows\n", c->spool, e->partners.v[0], e->dir, day, out.rows);
	else if (out.orders.file[0])
		printf("%s: %lu orders, %lu items, %lu pages\n", out.orders.file, out.orders.orders,
		       out.orders.items, out.orders.pages);
	else
		printf("nothing new since the last run: no file written\n");
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option extra[] = { { "date", required_argument, NULL, 'd' },
					       { NULL, 0, NULL, 0 } };
	static const char usage[] = "usage: dropgate export [-c FILE] NAME [--date YYYY-MM-DD]\n"
				    "Run the export NAME now, as its schedule would (a BI export for\n"
				    "the given UTC day, default yesterday).\n"
				    "Exit: 0, 4 when Commerce failed (the watermark stays).\n";
	const char *date = NULL;
	int status;
	struct conf *c = setup(argc, argv, usage, extra, date_opt, &date, &status);
	const struct export *e;
	struct buf err = BUF_INIT(4096);
	struct ledger *l;
	char *path;

	if (c == NULL)
		return status;
	if (optind + 1 != argc || (e = conf_export(c, argv[optind])) == NULL) {
		if (optind + 1 == argc)
			fprintf(stderr, "dropgate export: %s has no [export %s]\n", c->path, argv[optind]);
		else
			fputs(usage, stderr);
		conf_free(c);
		return EXIT_USAGE;
	}
	path = xasprintf("%s/ledger.db", c->state);
	if (as_state_owner(c, "export") < 0 || mkdirs(c->state, 0750, &err) < 0 ||
	    (l = ledger_open(path, &err)) == NULL) {
		fprintf(stderr, "dropgate export: %s\n", buf_cstr(&err));
		free(path);
		conf_free(c);
		buf_release(&err);
		return EXIT_USAGE;
	}
	free(path);
	commerce_global_init();
	status = export_now(c, e, l, date, &err);
	ledger_close(l);
	conf_free(c);
	buf_release(&err);
	return status;
}
