#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse/filecheck.h"
#include "parse/parcel.h"
#include "lib/conf.h"
#include "lib/profile.h"
#include "lib/unpack.h"
#include "lib/xmlin.h"
#include "ops/progress.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define READ_BLOCK (256 * 1024)
#define LOGGED_PROBLEMS 20

static int on_batch(void *ctx, const struct batch *b)
{
	struct filecheck *fc = ctx;
	int rc = parcel_put_batch(fc->outdir, fc->name, b, fc->keep_origins);

	progress_rows(fc->progress, b->rows);
	if (rc < 0)
		fc->io_failed = 1;
	return rc;
}

void filecheck_release(struct filecheck *fc)
{
	parcel_release(&fc->parcel);
}

static void on_problem(void *ctx, const struct problem *p)
{
	struct filecheck *fc = ctx;
	char line[4200];

	parcel_line(&fc->parcel, p->member, p->line, line, sizeof(line));
	parcel_problem(&fc->parcel, line, p->column, p->value.p, p->value.len, p->message);
}

void filecheck_message(struct filecheck *fc, const char *msg)
{
	parcel_message(&fc->parcel, msg);
}

static void on_message(void *ctx, const char *msg)
{
	filecheck_message(ctx, msg);
}

void filecheck_limits(const struct conf *c, const struct feed *f, struct pipeline_limits *lim)
{
	pipeline_default_limits(lim);
	for (size_t i = 0; i < f->targets.n; i++) {
		const struct target *t = conf_target(c, f->targets.v[i]);
		if (i == 0 || t->batch_rows < lim->batch_rows)
			lim->batch_rows = t->batch_rows;
		if (i == 0 || t->batch_bytes < lim->batch_bytes)
			lim->batch_bytes = (size_t)t->batch_bytes;
	}
}

struct fd_reader {
	struct filecheck *fc;
	int fd;
};

static int xml_read_fd(void *ctx, char *buf, int len)
{
	struct fd_reader *r = ctx;
	ssize_t n;

	do
		n = read(r->fd, buf, (size_t)len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		log_simple(LOG_ERROR, "read_failed", "%s: %s", r->fc->path, strerror(errno));
		r->fc->io_failed = 1;
		return -1;
	}
	progress_bytes(r->fc->progress, (size_t)n);
	return (int)n;
}

/* read_plain: a file that is no archive, CSV pushed, XML pulled. */
static void read_plain(struct filecheck *fc, struct pipeline *p, int fd)
{
	char *block;
	ssize_t n;

	if (fc->feed->format == FORMAT_XML) {
		struct fd_reader r = {fc, fd};
		xmlin_run(p, fc->feed, xml_read_fd, &r, fc->name);
		return;
	}
	block = xmalloc(READ_BLOCK);
	while ((n = read(fd, block, READ_BLOCK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_simple(LOG_ERROR, "read_failed", "%s: %s", fc->path, strerror(errno));
			fc->io_failed = 1;
			break;
		}
		progress_bytes(fc->progress, (size_t)n);
		if (pipeline_write(p, block, (size_t)n) != 0)
			break;
	}
	free(block);
}

struct member_reader {
	struct filecheck *fc;
	struct unpack *u;
	struct pipeline *p;
	struct buf err;
};

static int xml_read_member(void *ctx, char *buf, int len)
{
	struct member_reader *m = ctx;
	ssize_t n = unpack_read(m->u, buf, (size_t)len, &m->err);

	if (n > 0)
		progress_bytes(m->fc->progress, (size_t)n);
	if (n < 0) {
		pipeline_reject(m->p, "%s", buf_cstr(&m->err));
		return -1;
	}
	return (int)n;
}

/* read_archive: each selected member in name order, as parts of one file. */
static void read_archive(struct filecheck *fc, struct pipeline *p, enum unpack_kind kind)
{
	struct unpack_limits lim;
	struct member_reader m = {fc, NULL, p, BUF_INIT(4096)};
	char *block;

	unpack_default_limits(&lim);
	lim.max_members = fc->feed->max_members;
	lim.max_inflated = fc->feed->max_inflated;
	lim.max_ratio = fc->feed->max_ratio;
	lim.nested = fc->feed->nested;
	m.u = unpack_open(fc->path, fc->name, kind, &fc->feed->members, &lim, &m.err);
	if (m.u == NULL) {
		pipeline_reject(p, "%s", buf_cstr(&m.err));
		buf_release(&m.err);
		return;
	}
	block = xmalloc(READ_BLOCK);
	for (size_t i = 0; i < unpack_count(m.u) && !pipeline_stopped(p); i++) {
		ssize_t n;

		if (kind != UNPACK_GZ) {
			/* a single-file .gz is the file itself: its lines need no member name */
			strlist_push(&fc->parcel.members, unpack_member(m.u, i));
			pipeline_begin_member(p, (uint32_t)(i + 1), unpack_member(m.u, i));
		}
		if (unpack_begin(m.u, i, &m.err) < 0) {
			pipeline_reject(p, "%s", buf_cstr(&m.err));
			break;
		}
		if (fc->feed->format == FORMAT_XML) {
			xmlin_run(p, fc->feed, xml_read_member, &m, unpack_member(m.u, i));
			continue;
		}
		while ((n = unpack_read(m.u, block, READ_BLOCK, &m.err)) > 0) {
			progress_bytes(fc->progress, (size_t)n);
			if (pipeline_write(p, block, (size_t)n) != 0)
				break;
		}
		if (n < 0)
			pipeline_reject(p, "%s", buf_cstr(&m.err));
	}
	free(block);
	unpack_close(m.u);
	buf_release(&m.err);
	if (fc->keep_origins && fc->parcel.members.n &&
	    parcel_put_members(fc->outdir, fc->name, &fc->parcel.members) < 0)
		fc->io_failed = 1; /* the daemon tells Commerce's answers as member:line */
}

/*
 * log_profile: with DROPGATE_PROFILE set, where the file's time went
 * (lib/profile.h), and "other": the rest of filecheck_run (reading the file,
 * the report, setting up).
 */
static void log_profile(const struct filecheck *fc, const struct pipeline *p, uint64_t t0)
{
	struct profile_result r;
	struct logline l;
	double total = (double)(profile_now() - t0) / 1e9, other;

	pipeline_profile_get(p, &r);
	other = total;
	log_begin(&l, LOG_INFO, "stage_profile");
	log_kv(&l, "file", fc->path);
	for (int s = 0; s < PROF_STAGES; s++) {
		log_kvf(&l, profile_stage_name((enum profile_stage)s), "%.4f", r.seconds[s]);
		other -= r.seconds[s];
	}
	log_kvf(&l, "other", "%.4f", other > 0 ? other : 0);
	log_kvf(&l, "total", "%.4f", total);
	log_kvf(&l, "rows", "%lu", r.rows);
	log_kvf(&l, "rows_timed", "%lu", r.timed);
	log_end(&l);
}

/* start_progress: as fc->show asks; a bar only for a big file on a terminal */
static void start_progress(struct filecheck *fc, unsigned long long size)
{
	fc->progress = NULL;
	if (fc->show == SHOW_NOTHING ||
	    (fc->show == SHOW_PROGRESS_BAR && (size < PROGRESS_BAR_MIN || !isatty(2))))
		return;
	fc->progress = xmalloc(sizeof(*fc->progress));
	progress_open(fc->progress, fc->show == SHOW_PROGRESS_FILE ? fc->outdir : NULL,
		      fc->show == SHOW_PROGRESS_BAR, fc->name, size);
}

int filecheck_run(struct filecheck *fc, const struct pipeline_limits *lim)
{
	struct pipeline_sink sink = {on_batch, on_problem, on_message, fc};
	struct buf err = BUF_INIT(4096);
	struct pipeline *p;
	struct stat st;
	const char *slash = strrchr(fc->path, '/');
	const char *profile = getenv("DROPGATE_PROFILE");
	uint64_t t0 = profile && *profile ? profile_now() : 0;
	enum unpack_kind kind;
	int fd;

	fc->name = slash ? slash + 1 : fc->path;
	memset(&fc->parcel, 0, sizeof(fc->parcel));
	fc->parcel.dir = fc->outdir;
	fc->parcel.name = fc->name;
	fc->parcel.path = fc->path;
	fc->parcel.feed = fc->feed;
	fc->parcel.report = &fc->report;
	fc->io_failed = 0;
	memset(&fc->res, 0, sizeof(fc->res));
	fd = open(fc->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_simple(LOG_ERROR, "read_failed", "%s: %s", fc->path,
			   fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (report_open(&fc->report, fc->outdir, fc->name, &err) < 0) {
		log_simple(LOG_ERROR, "write_failed", "%s", buf_cstr(&err));
		buf_release(&err);
		close(fd);
		return -1;
	}
	p = pipeline_new(fc->feed, lim, &sink);
	if (t0)
		pipeline_profile_start(p);
	kind = unpack_kind_of(fc->name);
	start_progress(fc, (unsigned long long)st.st_size);
	pipeline_hint_size(p, (unsigned long long)st.st_size); /* of archives too: a floor */
	if (kind == UNPACK_NONE) {
		read_plain(fc, p, fd);
	} else {
		read_archive(fc, p, kind);
	}
	close(fd);
	pipeline_finish(p, &fc->res);
	if (t0)
		log_profile(fc, p, t0);
	progress_close(fc->progress);
	free(fc->progress);
	fc->progress = NULL;
	fc->parcel.batches = fc->res.batches;
	fc->parcel.rows = fc->res.rows;
	pipeline_free(p);
	if (fc->io_failed)
		fc->res.state = PIPE_FAILED;
	buf_release(&err);
	return 0;
}

int filecheck_finish(struct filecheck *fc, long long id, const char *state,
		     unsigned long rows_rejected, unsigned long batches, int keep_batches)
{
	struct report_summary sum = {0};
	struct buf err = BUF_INIT(4096);
	struct logline l;
	int rc = 0;

	if (!keep_batches)
		batches = 0;
	parcel_remove_batches(fc->outdir, fc->name, keep_batches ? fc->res.batches : 0);
	if (rows_rejected && !fc->intermediate) { /* the daemon tells its own count */
		buf_printf(&err, "%lu of %lu rows rejected: see %s.errors.csv", rows_rejected,
			   fc->res.rows, fc->name);
		report_message(&fc->report, buf_cstr(&err));
		buf_reset(&err);
	}
	sum.id = id;
	sum.feed = fc->feed->name;
	sum.state = state;
	sum.rows = fc->res.rows;
	sum.rows_rejected = rows_rejected;
	sum.rows_ok = fc->res.rows - rows_rejected;
	sum.batches = batches;
	/* the daemon's parcel durable before its result says it is whole; but a
	   sequence's, which the daemon sifts straight after and parses again when it
	   resumes without the sift saved (sift_saved): 50 MB of a snapshot not written
	   to the disk at all */
	if (fc->keep_origins && !fc->feed->sequence && parcel_sync(fc->outdir) < 0)
		rc = -1;
	else if (report_finish(&fc->report, &sum, &err) < 0) {
		log_simple(LOG_ERROR, "write_failed", "%s", buf_cstr(&err));
		rc = -1;
	}
	report_release(&fc->report);
	log_begin(&l,
		  strcmp(state, "valid") == 0 || strcmp(state, "done") == 0 ? LOG_INFO : LOG_WARN,
		  "file_finished");
	log_kv(&l, "file", fc->path);
	log_kv(&l, "feed", fc->feed->name);
	log_kv(&l, "state", state);
	log_kvf(&l, "rows", "%lu", sum.rows);
	log_kvf(&l, "rows_ok", "%lu", sum.rows_ok);
	log_kvf(&l, "rows_rejected", "%lu", rows_rejected);
	log_kvf(&l, "batches", "%lu", batches);
	log_end(&l);
	buf_release(&err);
	return rc;
}
