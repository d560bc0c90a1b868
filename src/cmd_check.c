/*
 * dropgate check --feed NAME [--out DIR] FILE...
 *
 * Offline: each file goes through the pipeline exactly as the daemon would
 * take it; the Commerce CSV batches (F.batch-0001.csv, ...) and the partner
 * report (F.result.json, F.errors.csv) are written to DIR. Nothing is
 * submitted and no ledger is touched. Batches of a file that ends rejected
 * are removed again, so DIR never holds half an import.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "lib/conf.h"
#include "lib/pipeline.h"
#include "lib/report.h"
#include "util/log.h"
#include "util/xalloc.h"

#define READ_BLOCK (256 * 1024)
#define LOGGED_PROBLEMS 20

struct check_file {
	const char *path;
	const char *name;
	const char *outdir;
	const struct feed *feed;
	struct report report;
	unsigned long problems;
	int write_failed;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int on_batch(void *ctx, const struct batch *b)
{
	struct check_file *cf = ctx;
	char *tmp = xasprintf("%s/.%s.batch-%04u.csv.tmp", cf->outdir, cf->name, b->seq);
	char *path = xasprintf("%s/%s.batch-%04u.csv", cf->outdir, cf->name, b->seq);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int rc = -1;

	/* No fsync: check is an offline tool, a crash means running it again; the
	   rename still makes each batch appear whole. */
	if (fd >= 0 && write_all(fd, b->csv, b->len) == 0 && close(fd) == 0) {
		fd = -1;
		rc = rename(tmp, path);
	}
	if (rc < 0) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "write_failed");
		log_kv(&l, "path", path);
		log_kv(&l, "error", strerror(errno));
		log_end(&l);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		cf->write_failed = 1;
	}
	free(tmp);
	free(path);
	return rc;
}

static void on_problem(void *ctx, const struct problem *p)
{
	struct check_file *cf = ctx;
	char line[32];

	snprintf(line, sizeof(line), "%lu", p->line);
	report_problem(&cf->report, line, p->column, p->value.p, p->value.len, p->message);
	if (++cf->problems <= LOGGED_PROBLEMS) {
		struct logline l;
		log_begin(&l, LOG_WARN, "row_rejected");
		log_kv(&l, "file", cf->path);
		log_kv(&l, "feed", cf->feed->name);
		log_kvf(&l, "line", "%lu", p->line);
		log_kv(&l, "column", p->column);
		log_kvn(&l, "value", p->value.p, p->value.len);
		log_kv(&l, "msg", p->message);
		log_end(&l);
	}
}

static void on_message(void *ctx, const char *msg)
{
	struct check_file *cf = ctx;
	struct logline l;

	report_message(&cf->report, msg);
	log_begin(&l, LOG_WARN, "file_problem");
	log_kv(&l, "file", cf->path);
	log_kv(&l, "feed", cf->feed->name);
	log_kv(&l, "msg", msg);
	log_end(&l);
}

/*
 * remove_batches: F.batch-NNNN.csv of name in dir numbered above keep: an
 * earlier, longer run's, or all of them (keep = 0) for a rejected file. Batches
 * this run wrote replaced the earlier ones of the same number by rename.
 */
static void remove_batches(const char *dir, const char *name, unsigned long keep)
{
	char *pat = xasprintf("%s/%s.batch-[0-9][0-9][0-9][0-9]*.csv", dir, name);
	size_t prefix = strlen(dir) + 1 + strlen(name) + strlen(".batch-");
	glob_t g;

	if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (strtoul(g.gl_pathv[i] + prefix, NULL, 10) > keep)
				unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	free(pat);
}

static void limits_for(const struct conf *c, const struct feed *f, struct pipeline_limits *lim)
{
	pipeline_default_limits(lim);
	/* the smallest batch any of the feed's targets takes */
	for (size_t i = 0; i < f->targets.n; i++) {
		const struct target *t = conf_target(c, f->targets.v[i]);
		if (i == 0 || t->batch_rows < lim->batch_rows)
			lim->batch_rows = t->batch_rows;
		if (i == 0 || t->batch_bytes < lim->batch_bytes)
			lim->batch_bytes = (size_t)t->batch_bytes;
	}
}

static const char *state_name(enum pipeline_state s)
{
	static const char *const names[] = { "valid", "partial", "rejected", "failed" };
	return names[s];
}

static int check_one(const struct conf *c, const struct feed *f, const char *path,
		     const char *outdir)
{
	struct check_file cf;
	struct pipeline_limits lim;
	struct pipeline_sink sink;
	struct pipeline_result res;
	struct report_summary sum;
	struct pipeline *p;
	struct buf err = BUF_INIT(4096);
	struct stat st;
	const char *slash = strrchr(path, '/');
	char *block = NULL;
	int fd, status;
	ssize_t n;

	memset(&cf, 0, sizeof(cf));
	cf.path = path;
	cf.name = slash ? slash + 1 : path;
	cf.outdir = outdir;
	cf.feed = f;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_simple(LOG_ERROR, "read_failed", "%s: %s", path,
			   fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return EXIT_USAGE;
	}
	if (report_open(&cf.report, outdir, cf.name, &err) < 0) {
		log_simple(LOG_ERROR, "write_failed", "%s", buf_cstr(&err));
		buf_release(&err);
		close(fd);
		return EXIT_USAGE;
	}
	limits_for(c, f, &lim);
	sink.batch = on_batch;
	sink.problem = on_problem;
	sink.message = on_message;
	sink.ctx = &cf;
	p = pipeline_new(f, &lim, &sink);
	pipeline_hint_size(p, (unsigned long long)st.st_size);
	block = xmalloc(READ_BLOCK);
	while ((n = read(fd, block, READ_BLOCK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_simple(LOG_ERROR, "read_failed", "%s: %s", path, strerror(errno));
			cf.write_failed = 1;
			break;
		}
		if (pipeline_write(p, block, (size_t)n) != 0)
			break;
	}
	close(fd);
	free(block);
	pipeline_finish(p, &res);
	pipeline_free(p);
	if (cf.write_failed)
		res.state = PIPE_FAILED;
	if (res.state == PIPE_REJECTED || res.state == PIPE_FAILED)
		res.batches = 0;
	remove_batches(outdir, cf.name, res.batches);
	if (res.rows_rejected) {
		buf_reset(&err);
		buf_printf(&err, "%lu of %lu rows rejected: see %s.errors.csv", res.rows_rejected,
			   res.rows, cf.name);
		report_message(&cf.report, buf_cstr(&err));
	}
	sum.id = -1;
	sum.feed = f->name;
	sum.state = state_name(res.state);
	sum.rows = res.rows;
	sum.rows_ok = res.rows_ok;
	sum.rows_rejected = res.rows_rejected;
	sum.batches = res.batches;
	buf_reset(&err);
	if (report_finish(&cf.report, &sum, &err) < 0) {
		log_simple(LOG_ERROR, "write_failed", "%s", buf_cstr(&err));
		res.state = PIPE_FAILED;
	}
	report_release(&cf.report);
	{
		struct logline l;
		log_begin(&l, res.state == PIPE_VALID ? LOG_INFO : LOG_WARN, "file_checked");
		log_kv(&l, "file", path);
		log_kv(&l, "feed", f->name);
		log_kv(&l, "state", state_name(res.state));
		log_kvf(&l, "rows", "%lu", res.rows);
		log_kvf(&l, "rows_ok", "%lu", res.rows_ok);
		log_kvf(&l, "rows_rejected", "%lu", res.rows_rejected);
		log_kvf(&l, "batches", "%lu", res.batches);
		log_end(&l);
	}
	buf_release(&err);
	switch (res.state) {
	case PIPE_VALID: status = 0; break;
	case PIPE_PARTIAL: status = 1; break;
	case PIPE_REJECTED: status = 3; break;
	default: status = EXIT_USAGE; break;
	}
	return status;
}

static void check_usage(FILE *out)
{
	fprintf(out, "usage: dropgate check [-c FILE] --feed NAME [--out DIR] FILE...\n"
		     "Validate and transform files offline, as `run` would; write the Commerce\n"
		     "CSV batches and the partner report to DIR (default: the current directory).\n"
		     "Exit: 0 all rows valid, 1 some rows rejected, 3 file rejected, 2 error.\n");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "feed", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *confpath = NULL, *feedname = NULL, *outdir = ".";
	struct buf err = BUF_INIT(64 * 1024);
	struct conf *c;
	const struct feed *f;
	struct stat st;
	int opt, worst = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:f:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': confpath = optarg; break;
		case 'f': feedname = optarg; break;
		case 'o': outdir = optarg; break;
		case 'h': check_usage(stdout); return 0;
		default: check_usage(stderr); return EXIT_USAGE;
		}
	}
	if (feedname == NULL || optind >= argc) {
		check_usage(stderr);
		return EXIT_USAGE;
	}
	c = conf_load(config_path(confpath), &err);
	if (c == NULL) {
		fputs(buf_cstr(&err), stderr);
		buf_release(&err);
		return EXIT_USAGE;
	}
	log_set_level((enum log_level)c->log_level);
	f = conf_feed(c, feedname);
	if (f == NULL) {
		fprintf(stderr, "dropgate: %s has no [feed %s]\n", c->path, feedname);
		conf_free(c);
		return EXIT_USAGE;
	}
	if (f->format != FORMAT_CSV) {
		fprintf(stderr, "dropgate: [feed %s]: format = xml is not supported by this build\n",
			feedname);
		conf_free(c);
		return EXIT_USAGE;
	}
	if (stat(outdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "dropgate: --out %s: not a directory\n", outdir);
		conf_free(c);
		return EXIT_USAGE;
	}
	for (int i = optind; i < argc; i++) {
		int s = check_one(c, f, argv[i], outdir);
		/* the highest status wins, but a usage/I-O error (2) is below a rejection (3) */
		if (s > worst)
			worst = s;
	}
	conf_free(c);
	buf_release(&err);
	return worst;
}
