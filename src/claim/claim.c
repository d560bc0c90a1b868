/*
 * claim - taking partners' files into the ledger and work/ (see claim.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "claim/claim.h"
#include "lib/stamp.h"
#include "queue/spool.h"
#include "util/crashpoint.h"
#include "util/log.h"
#include "util/xalloc.h"

#define STAGE_PREFIX "redrop."

/* one claim finished at a time: the scan and the workers (a cut claim) both finish claims */
static pthread_mutex_t claim_lock = PTHREAD_MUTEX_INITIALIZER;

struct group {
	struct ledger_file *rows;
	size_t n;
};

static void collect(void *ctx, const struct ledger_file *f)
{
	struct group *g = ctx;

	g->rows = xreallocarray(g->rows, g->n + 1, sizeof(*g->rows));
	g->rows[g->n++] = *f;
}

static char *work_path(const struct conf *c, const struct ledger_file *f)
{
	return xasprintf("%s/work/%lld/%s", c->state, f->id, f->name);
}

/* retry_later: the rows stay received and wait, doubling from retry_deferred. */
static void retry_later(struct ledger *l, const struct conf *c, const struct group *g,
			const char *why)
{
	for (size_t i = 0; i < g->n; i++) {
		unsigned long wait = conf_retry_wait(c, g->rows[i].attempts);
		char msg[1024];

		snprintf(msg, sizeof(msg), "the claim failed: %s; next try in %lus", why, wait);
		ledger_claim_retry(l, g->rows[i].id, time(NULL) + (time_t)wait, msg);
		if (i == 0)
			log_simple(LOG_WARN, "claim_failed", "file_id %lld: %s", g->rows[i].id,
				   msg);
	}
}

/* same_bytes: a and b hold the same bytes. */
static int same_bytes(const char *a, const char *b)
{
	struct buf err = BUF_INIT(4096);
	char ha[65], hb[65];
	struct stat sa, sb;
	int same = lstat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISREG(sa.st_mode) &&
		   sa.st_size == sb.st_size && sha256_file(a, ha, &err) == 0 &&
		   sha256_file(b, hb, &err) == 0 && strcmp(ha, hb) == 0;

	buf_release(&err);
	return same;
}

/*
 * take_file: the claim's one whole copy, as a work path (caller frees): the
 * first work/<id>/NAME that exists, else the file at path moved there.
 * NULL with err when neither exists or the move failed (*gone tells which).
 */
static char *take_file(const struct conf *c, const char *path, const struct group *g, int *gone,
		       struct buf *err)
{
	char *anchor = NULL, *wd;
	struct stat st;

	*gone = 0;
	for (size_t i = 0; i < g->n && anchor == NULL; i++) {
		anchor = work_path(c, &g->rows[i]);
		if (access(anchor, F_OK) != 0) {
			free(anchor);
			anchor = NULL;
		}
	}
	if (anchor) {
		/* a move across filesystems cut after its rename: finish it (a new upload
		   under the same name has other bytes and stays, to be claimed itself).
		   Not when path is the anchor itself, or another name of it: a row whose
		   path the ledger already took (the claim cut between the rows' updates)
		   names its own work copy, and unlinking it lost that feed's copy */
		struct stat ast;
		if (lstat(path, &st) == 0 && stat(anchor, &ast) == 0 &&
		    (st.st_dev != ast.st_dev || st.st_ino != ast.st_ino) && same_bytes(path, anchor) &&
		    unlink(path) == 0) {
			char *dir = dir_of(path);
			fsync_dir(dir);
			free(dir);
		}
		return anchor;
	}
	if (lstat(path, &st) < 0) {
		*gone = 1;
		buf_printf(err, "%s is gone before it was claimed", path);
		return NULL;
	}
	anchor = work_path(c, &g->rows[0]);
	wd = dir_of(anchor);
	if (mkdirs(wd, 0750, err) < 0 || spool_move(path, anchor, err) < 0) {
		free(anchor);
		anchor = NULL;
	}
	free(wd);
	if (anchor)
		crash_point("claim-after-move");
	return anchor;
}

/* finish_group: steps 2-4 for the rows of one claim. */
static int finish_group(struct ledger *l, const struct conf *c, const char *path,
			const struct group *g)
{
	struct buf err = BUF_INIT(4096);
	int gone, rc = 0;
	char *anchor = take_file(c, path, g, &gone, &err);

	for (size_t i = 0; anchor && i < g->n && rc == 0; i++) {
		char *p = work_path(c, &g->rows[i]), *wd = dir_of(p);
		if (access(p, F_OK) != 0 &&
		    (mkdirs(wd, 0750, &err) < 0 || spool_link_or_copy(anchor, p, &err) < 0))
			rc = -1;
		free(p);
		free(wd);
	}
	if (anchor == NULL || rc < 0) {
		for (size_t i = 0; gone && i < g->n; i++)
			ledger_set_state(l, g->rows[i].id, ST_FAILED, buf_cstr(&err));
		if (!gone)
			retry_later(l, c, g, buf_cstr(&err));
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < g->n; i++) {
		char *p = work_path(c, &g->rows[i]);
		ledger_set_path(l, g->rows[i].id, p, NULL);
		ledger_set_state(l, g->rows[i].id, ST_PROCESSING, "claimed");
		free(p);
	}
	{
		/* a redrop's staging directory is empty now */
		char *dir = dir_of(path), *base = strrchr(dir, '/');
		if (base && strncmp(base + 1, STAGE_PREFIX, strlen(STAGE_PREFIX)) == 0)
			rmdir(dir);
		free(dir);
	}
out:
	free(anchor);
	buf_release(&err);
	return rc;
}

int claim_finish(struct ledger *l, const struct conf *c, const char *path)
{
	struct group g = {NULL, 0};
	int rc = 0;

	pthread_mutex_lock(&claim_lock);
	ledger_each_at(l, path, ST_RECEIVED, collect, &g);
	if (g.n)
		rc = finish_group(l, c, path, &g);
	pthread_mutex_unlock(&claim_lock);
	free(g.rows);
	return rc;
}

/*
 * add_rows: the rows of one claim (or refusal) of from, one per feed, all or
 * none; 1 when another node sharing the ledger claimed this very file first
 * (its identity as stat sees it on the shared spool: size, mtime, inode and
 * ctime; a new upload under the name has another), 0 added, -1 failed.
 */
static int add_rows(struct ledger *l, const struct feed *const *feeds, size_t nfeeds,
		    const char *partner, const char *from, const struct stat *st, const char *state,
		    const char *message, long long *ids)
{
	const char **names = xcalloc(nfeeds, sizeof(*names));
	struct ledger_lane *lanes = xcalloc(nfeeds, sizeof(*lanes));
	const char *name = strrchr(from, '/') + 1;
	int rc;

	for (size_t i = 0; i < nfeeds; i++) {
		const struct feed *f = feeds[i];
		time_t t;
		names[i] = f->name;
		if (f->sequence == NULL)
			continue; /* its own lane, in ledger order */
		/* a name without the stamp takes the arrival time here; it fails when screened */
		stamp_of(f->stamp.kind, f->stamp.format, name, st->st_mtime, time(NULL), &t);
		lanes[i].lane = xasprintf("seq:%s", f->sequence);
		lanes[i].stamp = (long long)t;
	}
	{
		char ident[128];
		snprintf(ident, sizeof(ident), "%lld:%lld.%09ld:%llu:%lld.%09ld",
			 (long long)st->st_size, (long long)st->st_mtim.tv_sec,
			 st->st_mtim.tv_nsec, (unsigned long long)st->st_ino,
			 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
		rc = ledger_add_claim(l, partner, names, nfeeds, name, from,
				      (long long)st->st_size, ident, state, message, lanes, ids);
	}
	for (size_t i = 0; i < nfeeds; i++)
		free((char *)lanes[i].lane);
	free(lanes);
	free(names);
	return rc;
}

long long claim_file(struct ledger *l, const struct conf *c, const struct feed *const *feeds,
		     size_t nfeeds, const char *partner, const char *from, const struct stat *st)
{
	long long *ids = xcalloc(nfeeds, sizeof(*ids)), first = 0;
	const char *name = strrchr(from, '/') + 1;
	struct stat now_st;

	if (lstat(from, &now_st) < 0 || now_st.st_ino != st->st_ino)
		goto out; /* gone, or replaced, since the scan: the next scan decides */
	switch (add_rows(l, feeds, nfeeds, partner, from, st, ST_RECEIVED, from, ids)) {
	case 0:
		break;
	case 1:
		log_simple(LOG_DEBUG, "claim_lost", "%s: another node claimed it", from);
		goto out; /* the other node's now: left alone */
	default:
		first = -1;
		goto out;
	}
	crash_point("claim-after-add");
	if (claim_finish(l, c, from) == 0) {
		struct logline lg;
		first = ids[0];
		log_begin(&lg, LOG_INFO, "file_claimed");
		log_kv(&lg, "partner", partner);
		log_kv(&lg, "file", name);
		log_kvf(&lg, "file_id", "%lld", ids[0]);
		log_kvf(&lg, "feeds", "%zu", nfeeds);
		log_end(&lg);
	}
out:
	free(ids);
	return first;
}

/* move_link: a symbolic link made again at to, then removed at from. */
static int move_link(const char *from, const char *to, struct buf *err)
{
	char target[PATH_MAX];
	ssize_t n = readlink(from, target, sizeof(target) - 1);
	char *td = dir_of(to), *fd_ = dir_of(from);
	int rc = -1;

	if (n >= 0) {
		target[n] = '\0';
		if (symlink(target, to) == 0 && fsync_dir(td) == 0 && unlink(from) == 0 &&
		    fsync_dir(fd_) == 0)
			rc = 0;
	}
	if (rc < 0)
		buf_printf(err, "cannot move the link %s to %s: %s", from, to, strerror(errno));
	free(td);
	free(fd_);
	return rc;
}

/* move_aside: a refused entry to failed/ without reading it or filling the state disk. */
static int move_aside(const struct conf *c, const char *from, const char *to, const struct stat *st,
		      struct buf *err)
{
	char *td = dir_of(to), *fd_ = dir_of(from);
	int rc = -1;

	if (rename(from, to) == 0) {
		/* rename moves the entry itself (a link stays a link), never its target */
		rc = fsync_dir(td) == 0 && fsync_dir(fd_) == 0 ? 0 : -1;
	} else if (errno != EXDEV) {
		buf_printf(err, "cannot move %s to %s: %s", from, to, strerror(errno));
	} else if (S_ISLNK(st->st_mode)) {
		rc = move_link(from, to, err);
	} else if (S_ISREG(st->st_mode) && st->st_nlink == 1 &&
		   disk_free(c->state) > (unsigned long long)st->st_size + c->min_free) {
		rc = spool_move(from, to, err);
	} else {
		buf_printf(err, "%s stays where it is: the state disk is elsewhere and %s", from,
			   S_ISREG(st->st_mode) && st->st_nlink == 1
			       ? "would keep less than min_free"
			       : "it is not read");
	}
	free(td);
	free(fd_);
	return rc;
}

int claim_refuse(struct ledger *l, const struct feed *const *feeds, size_t nfeeds,
		 const char *partner, const char *from, const struct stat *st, const char *why,
		 long long *ids)
{
	/* refused already, and left where it is: once is enough */
	if (ledger_count_at(l, from, ST_REFUSED, (long long)st->st_size) > 0)
		return 0;
	/* refused from the first row on: never a received row a claim would take */
	switch (add_rows(l, feeds, nfeeds, partner, from, st, ST_REFUSED, why, ids)) {
	case 0:
		return 1;
	case 1:
		return 0; /* another node refused it */
	default:
		return -1;
	}
}

void claim_move_aside(struct ledger *l, const struct conf *c, const struct feed *feed,
		      const char *partner, const char *from, const struct stat *st,
		      const long long *ids, size_t nids)
{
	const char *name = strrchr(from, '/') + 1;
	char *faildir = xasprintf("%s/failed/%s/%s", c->state, partner, feed->name);
	char *to = xasprintf("%s/%s", faildir, name);
	struct buf err = BUF_INIT(4096);

	if (mkdirs(faildir, 0750, &err) == 0 && access(to, F_OK) == 0) {
		free(to);
		to = xasprintf("%s/%s.%lld", faildir, name, ids[0]);
	}
	if (err.len == 0 && move_aside(c, from, to, st, &err) == 0)
		for (size_t i = 0; i < nids; i++)
			ledger_set_path(l, ids[i], to, NULL);
	else
		log_simple(LOG_WARN, "refused_in_place", "%s", buf_cstr(&err));
	free(faildir);
	free(to);
	buf_release(&err);
}

int claim_marker_fresh(const char *path, const struct stat *st)
{
	char *ok = xasprintf("%s.ok", path);
	struct stat mst;
	int fresh = stat(ok, &mst) == 0 && (mst.st_mtim.tv_sec > st->st_mtim.tv_sec ||
					    (mst.st_mtim.tv_sec == st->st_mtim.tv_sec &&
					     mst.st_mtim.tv_nsec >= st->st_mtim.tv_nsec));

	free(ok);
	return fresh;
}

void claim_marker_remove(const char *path)
{
	char *ok = xasprintf("%s.ok", path), *dir = dir_of(path);

	if (unlink(ok) == 0)
		fsync_dir(dir);
	free(ok);
	free(dir);
}

char *claim_stage_dir(const struct conf *c, struct buf *err)
{
	char *work = xasprintf("%s/work", c->state);
	char *dir = xasprintf("%s/" STAGE_PREFIX "XXXXXX", work);

	if (mkdirs(work, 0750, err) < 0 || mkdtemp(dir) == NULL) {
		if (err->len == 0)
			buf_printf(err, "cannot create a directory in %s: %s", work,
				   strerror(errno));
		free(dir);
		dir = NULL;
	}
	free(work);
	return dir;
}

void claim_clean_stages(struct ledger *l, const struct conf *c)
{
	char *work = xasprintf("%s/work", c->state);
	DIR *dh = opendir(work);
	struct dirent *e;

	while (dh && (e = readdir(dh)) != NULL) {
		char *dir, *file = NULL;
		DIR *sh;
		struct dirent *f;

		if (strncmp(e->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX)) != 0)
			continue;
		dir = xasprintf("%s/%s", work, e->d_name);
		sh = opendir(dir);
		while (sh && file == NULL && (f = readdir(sh)) != NULL)
			if (f->d_name[0] != '.')
				file = xasprintf("%s/%s", dir, f->d_name);
		if (sh)
			closedir(sh);
		/* a received row names its copy: the claim finishes it; else it was cut short */
		if (file == NULL || ledger_count_at(l, file, ST_RECEIVED, -1) == 0)
			remove_tree(dir);
		free(file);
		free(dir);
	}
	if (dh)
		closedir(dh);
	free(work);
}
