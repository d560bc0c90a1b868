/*
 * daemon - dropgate run: watches the partners' spools, claims each file into
 * the state directory, has it parsed by a child process that holds no
 * secrets, submits its batches, reports, and archives it.
 *
 * Threads: the main thread watches (inotify, with a periodic rescan as the
 * safety net: the directory is the truth), claims ready files into the ledger
 * and work/, and hands file ids to up to `workers` worker threads, never two
 * files of one partner and feed at once. A worker thread takes a file from
 * where the ledger says it is to its end state; after a crash, the ledger says
 * where to resume, and only the batch that was in flight is sent again.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "commerce/client.h"
#include "daemon/claim.h"
#include "daemon/daemon.h"
#include "daemon/ledger.h"
#include "daemon/sandbox.h"
#include "daemon/spool.h"
#include "export/bi.h"
#include "export/orders.h"
#include "filecheck.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/loadconf.h"
#include "lib/parsed.h"
#include "submitter.h"
#include "util/log.h"
#include "util/strlist.h"
#include "util/xalloc.h"

#define TICK_MS 500
#define MAX_QUEUE 100000
#define STOP_GRACE_S 15 /* a stop waits this long for the threads, then exits anyway */

/* A file seen in a feed directory and not yet ready (quiet:N, settle). */
struct seen {
	char *path;
	off_t size;
	time_t mtime;
	time_t since; /* unchanged since */
	unsigned long scan; /* the last scan that saw it */
};

struct daemon {
	char *confpath;
	struct conf *conf;
	struct conf **retired; /* earlier configurations, kept for workers that hold them */
	size_t nretired;
	struct ledger *ledger;
	char self[PATH_MAX];
	int inotify_fd;
	struct strlist watched; /* directories with a watch ... */
	int *wds;               /* ... and their watch descriptors */
	int need_rescan;
	time_t next_rescan;
	time_t next_prune;
	struct strlist closed;  /* spool paths whose writer closed them */
	struct strlist closed_before; /* events no directory took in the scan under way: dropped */
	unsigned long scan;     /* scans so far */
	struct seen *seen;
	size_t nseen;
	struct strlist unmatched; /* names logged once */
	char paused[512];       /* why claiming is paused, "" when it is not */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	long long *queue;
	size_t nqueue;
	struct strlist busy;    /* "partner/feed" in a worker */
	long long *running;     /* ids in workers */
	size_t nrunning;
	pthread_t *threads;
	size_t nthreads;
};

static volatile sig_atomic_t stop_flag, reload_flag, stop_signals;
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP) {
		reload_flag = 1;
	} else {
		stop_flag = 1;
		stop_signals++;
	}
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], "x", 1) < 0) {
		/* the pipe is full: the loop wakes anyway */
	}
	errno = saved;
}

static int stopping(void *ctx)
{
	(void)ctx;
	return stop_flag != 0;
}

static char *key_of(const char *partner, const char *feed)
{
	return xasprintf("%s/%s", partner, feed);
}

/* --- configuration ------------------------------------------------------ */

static struct conf *current_conf(struct daemon *d)
{
	struct conf *c;

	pthread_mutex_lock(&d->lock);
	c = d->conf;
	pthread_mutex_unlock(&d->lock);
	return c;
}

static void reload(struct daemon *d)
{
	struct buf err = BUF_INIT(64 * 1024);
	struct conf *c = conf_load(d->confpath, &err);

	if (c == NULL) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "reload_refused");
		log_kv(&l, "config", d->confpath);
		log_kv(&l, "reason", buf_cstr(&err));
		log_kv(&l, "msg", "the running configuration stays");
		log_end(&l);
		buf_release(&err);
		return;
	}
	pthread_mutex_lock(&d->lock);
	d->retired = xreallocarray(d->retired, d->nretired + 1, sizeof(*d->retired));
	d->retired[d->nretired++] = d->conf;
	d->conf = c;
	pthread_mutex_unlock(&d->lock);
	log_set_level((enum log_level)c->log_level);
	d->need_rescan = 1;
	log_simple(LOG_INFO, "reloaded", "%s", d->confpath);
	buf_release(&err);
}

static int partner_matches(const struct feed *f, const char *partner)
{
	for (size_t i = 0; i < f->partners.n; i++)
		if (fnmatch(f->partners.v[i], partner, 0) == 0)
			return 1;
	return 0;
}

/* feeds_sharing_dir: how many of the partner's feeds read f's directory. */
static int feeds_sharing_dir(const struct conf *c, const struct feed *f, const char *partner)
{
	int n = 0;

	for (size_t i = 0; i < c->nfeeds; i++)
		n += strcmp(c->feeds[i].dir, f->dir) == 0 && partner_matches(&c->feeds[i], partner);
	return n;
}

/* --- paths ------------------------------------------------------------------ */

static char *work_dir(const struct conf *c, long long id)
{
	return xasprintf("%s/work/%lld", c->state, id);
}

/*
 * reports_dir: outbound/reports, or outbound/reports/<feed> when several of the
 * partner's feeds read f's directory: each keeps F.result.json, and no name
 * can meet another feed's (a feed name is no report name).
 */
char *reports_dir(const struct conf *c, const struct feed *f, const char *partner)
{
	if (f && feeds_sharing_dir(c, f, partner) > 1)
		return xasprintf("%s/%s/outbound/reports/%s", c->spool, partner, f->name);
	return xasprintf("%s/%s/outbound/reports", c->spool, partner);
}

/* --- watching ----------------------------------------------------------------- */

static void watch_dir(struct daemon *d, const char *dir, uint32_t mask)
{
	int wd;

	if (strlist_has(&d->watched, dir))
		return;
	wd = inotify_add_watch(d->inotify_fd, dir, mask);
	if (wd < 0)
		return;
	strlist_push(&d->watched, dir);
	d->wds = xreallocarray(d->wds, d->watched.n, sizeof(*d->wds));
	d->wds[d->watched.n - 1] = wd;
}

static const char *watched_path(const struct daemon *d, int wd)
{
	for (size_t i = 0; i < d->watched.n; i++)
		if (d->wds[i] == wd)
			return d->watched.v[i];
	return NULL;
}

#define FEED_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB)
#define TREE_EVENTS (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

/* watch_tree: the spool, each partner, and every directory down to each feed dir. */
static void watch_tree(struct daemon *d, const struct conf *c, const char *partner)
{
	for (size_t i = 0; i < c->nfeeds; i++) {
		const struct feed *f = &c->feeds[i];
		char *path, *s;

		if (!partner_matches(f, partner))
			continue;
		path = xasprintf("%s/%s/%s", c->spool, partner, f->dir);
		/* each existing ancestor below the partner root, then the feed dir */
		for (s = path + strlen(c->spool) + 1; (s = strchr(s, '/')) != NULL; s++) {
			*s = '\0';
			watch_dir(d, path, TREE_EVENTS);
			*s = '/';
		}
		watch_dir(d, path, FEED_EVENTS);
		free(path);
	}
}

static void read_events(struct daemon *d)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(d->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			if (e->mask & IN_Q_OVERFLOW) {
				log_simple(LOG_WARN, "inotify_overflow", "events were lost: a full rescan");
				d->need_rescan = 1;
			} else if (e->mask & IN_ISDIR) {
				d->need_rescan = 1; /* a new partner or feed directory */
			} else if (e->len && (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) &&
				   !spool_ignored_name(e->name)) {
				const char *dir = watched_path(d, e->wd);
				if (dir) {
					char *path = xasprintf("%s/%s", dir, e->name);
					if (!strlist_has(&d->closed, path))
						strlist_push(&d->closed, path);
					free(path);
				}
			}
			p += sizeof(*e) + e->len;
		}
	}
}

/* --- claiming ------------------------------------------------------------------ */

static void seen_forget(struct daemon *d, const char *path)
{
	for (size_t i = 0; i < d->nseen; i++)
		if (strcmp(d->seen[i].path, path) == 0) {
			free(d->seen[i].path);
			d->seen[i] = d->seen[--d->nseen];
			return;
		}
}

/* quiet_for: seconds path has kept its size and mtime across scans. */
static time_t quiet_for(struct daemon *d, const char *path, const struct stat *st, time_t now)
{
	for (size_t i = 0; i < d->nseen; i++) {
		struct seen *s = &d->seen[i];
		if (strcmp(s->path, path) != 0)
			continue;
		s->scan = d->scan;
		if (s->size != st->st_size || s->mtime != st->st_mtime) {
			s->size = st->st_size;
			s->mtime = st->st_mtime;
			s->since = now;
		}
		return now - s->since;
	}
	d->seen = xreallocarray(d->seen, d->nseen + 1, sizeof(*d->seen));
	d->seen[d->nseen].path = xstrdup(path);
	d->seen[d->nseen].size = st->st_size;
	d->seen[d->nseen].mtime = st->st_mtime;
	d->seen[d->nseen].since = now;
	d->seen[d->nseen].scan = d->scan;
	d->nseen++;
	return 0;
}

static int take_closed(struct daemon *d, const char *path)
{
	return strlist_remove(&d->closed, path) | strlist_remove(&d->closed_before, path);
}

/*
 * forget_what_scan_left: after a full scan, what it did not take goes: close
 * events of names no feed reads (or gone), files no longer waiting to settle,
 * unmatched names no longer there. Memory stays the size of the spool, and a
 * leftover does not make every tick a rescan.
 */
static void forget_what_scan_left(struct daemon *d)
{
	struct stat st;

	strlist_clear(&d->closed_before);
	for (size_t i = 0; i < d->nseen;)
		if (d->seen[i].scan != d->scan) {
			free(d->seen[i].path);
			d->seen[i] = d->seen[--d->nseen];
		} else {
			i++;
		}
	for (size_t i = 0; i < d->unmatched.n;)
		if (lstat(d->unmatched.v[i], &st) < 0) {
			free(d->unmatched.v[i]);
			d->unmatched.v[i] = d->unmatched.v[--d->unmatched.n];
		} else {
			i++;
		}
}

/* ready: has the upload of dir/name ended, by the feed's arrival rule? */
static int ready(struct daemon *d, const struct conf *c, const struct feed *f, const char *dir,
		 const char *name, const struct stat *st, time_t now, int closed)
{
	char *path = xasprintf("%s/%s", dir, name);
	int r = 0;

	switch (f->complete) {
	case COMPLETE_OKFILE:
		r = claim_marker_fresh(path, st); /* a marker older than the file is left over */
		break;
	case COMPLETE_QUIET:
		r = quiet_for(d, path, st, now) >= (time_t)f->quiet_seconds;
		break;
	case COMPLETE_CLOSE: {
		/* the close event says so; the safety net waits for quiet, and a file too
		   young for it is looked at again each tick (seen), not at the next rescan */
		time_t quiet = quiet_for(d, path, st, now);
		r = closed || (now - st->st_mtime >= (time_t)c->settle &&
			       quiet >= (time_t)(c->settle < 2 ? c->settle : 2));
		break;
	}
	}
	free(path);
	return r;
}

/* refuse: a non-regular or oversized entry: reported, moved aside, never read. */
static void write_simple_report(const struct conf *c, const struct feed *f, long long id,
				const char *partner, const char *name, const char *state,
				const char *message);

static void claim_refused(struct daemon *d, const struct conf *c, const struct feed **feeds,
			  size_t nfeeds, const char *partner, const char *dir, const char *name,
			  const struct stat *st, const char *why)
{
	char *from = xasprintf("%s/%s", dir, name);
	long long *ids = xcalloc(nfeeds, sizeof(*ids));
	struct logline l;

	if (claim_refuse(d->ledger, feeds, nfeeds, partner, from, st, why, ids) > 0) {
		for (size_t i = 0; i < nfeeds; i++)
			write_simple_report(c, feeds[i], ids[i], partner, name, ST_REFUSED, why);
		claim_move_aside(d->ledger, c, feeds[0], partner, from, st, ids, nfeeds);
		log_begin(&l, LOG_WARN, "file_refused");
		log_kv(&l, "partner", partner);
		log_kv(&l, "file", name);
		log_kv(&l, "msg", why);
		log_end(&l);
	}
	free(from);
	free(ids);
}

/*
 * claim: dir/name into the ledger and work/ for each feed reading dir
 * (claim.c). -1 when the ledger could not record it: the file stays where it
 * is, and no later file of the feed may be claimed before it.
 */
static int claim(struct daemon *d, const struct conf *c, const struct feed **feeds, size_t nfeeds,
		 const char *partner, const char *dir, const char *name, const struct stat *st)
{
	char *from = xasprintf("%s/%s", dir, name);
	long long id = claim_file(d->ledger, c, feeds, nfeeds, partner, from, st);

	if (id > 0 && feeds[0]->complete == COMPLETE_OKFILE)
		claim_marker_remove(from);
	seen_forget(d, from);
	free(from);
	return id < 0 ? -1 : 0;
}

/* --- scanning ---------------------------------------------------------------------- */

struct candidate {
	char *name;
	struct stat st;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct candidate *)a)->name, ((const struct candidate *)b)->name);
}

static int by_mtime(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->st.st_mtime != y->st.st_mtime)
		return x->st.st_mtime < y->st.st_mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int (*order_cmp(const struct feed *f))(const void *, const void *)
{
	return f->order == ORDER_MTIME ? by_mtime : by_name;
}

/*
 * note_waiting: keep the first (in the feed's order) file still arriving by
 * close or quiet:N. A file settling since the daemon started, or an upload
 * still open, goes before a later name whose close event came first: order per
 * partner and feed holds across a restart. An ok-file without its marker has
 * not arrived and holds nothing up.
 */
static void note_waiting(struct candidate *w, const struct feed *f, const char *name,
			 const struct stat *st)
{
	struct candidate cd = {(char *)name, *st};

	if (f->complete == COMPLETE_OKFILE || (w->name && order_cmp(f)(&cd, w) >= 0))
		return;
	free(w->name);
	w->name = xstrdup(name);
	w->st = *st;
}

/* scan_dir: claim every ready file of one partner's feed directory, in order. */
static void scan_dir(struct daemon *d, const struct conf *c, const char *partner, const char *dir)
{
	const struct feed **feeds = xcalloc(c->nfeeds, sizeof(*feeds));
	size_t nfeeds = 0;
	struct candidate *cand = NULL, waiting = {NULL, {0}};
	size_t ncand = 0;
	time_t now = time(NULL);
	DIR *dh;
	struct dirent *e;
	char *rel;

	/* the feeds that read this directory */
	rel = xstrdup(dir + strlen(c->spool) + 1 + strlen(partner) + 1);
	for (size_t i = 0; i < c->nfeeds; i++)
		if (strcmp(c->feeds[i].dir, rel) == 0 && partner_matches(&c->feeds[i], partner))
			feeds[nfeeds++] = &c->feeds[i];
	free(rel);
	dh = nfeeds ? opendir(dir) : NULL;
	while (dh && (e = readdir(dh)) != NULL) {
		struct candidate cd;
		char *path;
		int matched = 0, closed;

		if (spool_ignored_name(e->d_name))
			continue;
		for (size_t i = 0; i < nfeeds; i++)
			matched |= strlist_match(&feeds[i]->match, e->d_name);
		path = xasprintf("%s/%s", dir, e->d_name);
		if (!matched) {
			if (!strlist_has(&d->unmatched, path)) {
				strlist_push(&d->unmatched, path);
				log_simple(LOG_INFO, "file_ignored", "%s matches no feed's match patterns; "
								     "left alone",
					   path);
			}
			free(path);
			continue;
		}
		if (lstat(path, &cd.st) < 0) {
			free(path);
			continue;
		}
		if (!S_ISREG(cd.st.st_mode) || cd.st.st_nlink != 1 ||
		    (unsigned long long)cd.st.st_size > c->max_file_size) {
			const char *why = S_ISLNK(cd.st.st_mode) ? "a symbolic link: refused, not read"
					  : !S_ISREG(cd.st.st_mode) ? "not a regular file: refused, not read"
					  : cd.st.st_nlink != 1 ? "a file with several hard links: refused, not read"
								: "larger than max_file_size: refused";
			if (!ledger_in_flight_path(d->ledger, path))
				claim_refused(d, c, feeds, nfeeds, partner, dir, e->d_name, &cd.st, why);
			free(path);
			continue;
		}
		closed = take_closed(d, path);
		if (ledger_in_flight_path(d->ledger, path)) {
			/* claimed already, its claim waiting for a retry: never a second row */
			seen_forget(d, path);
			free(path);
			continue;
		}
		if (!ready(d, c, feeds[0], dir, e->d_name, &cd.st, now, closed)) {
			/* the close event is spent: an ok-file waits for its marker (an event
			   of its own), quiet:N for the quiet its seen entry counts */
			note_waiting(&waiting, feeds[0], e->d_name, &cd.st);
			free(path);
			continue;
		}
		free(path);
		cd.name = xstrdup(e->d_name);
		cand = xreallocarray(cand, ncand + 1, sizeof(*cand));
		cand[ncand++] = cd;
	}
	if (dh)
		closedir(dh);
	if (ncand)
		qsort(cand, ncand, sizeof(*cand), order_cmp(feeds[0]));
	for (size_t i = 0; i < ncand; i++) {
		/* readdir may show a name twice while the directory changes under it */
		int again = i > 0 && strcmp(cand[i].name, cand[i - 1].name) == 0;
		if (waiting.name && order_cmp(feeds[0])(&cand[i], &waiting) > 0)
			break; /* an earlier file is still arriving: the order waits for it */
		if (again || d->paused[0] || stop_flag)
			continue;
		if (claim(d, c, feeds, nfeeds, partner, dir, cand[i].name, &cand[i].st) < 0)
			break; /* unrecorded: a later name claimed now would go first */
	}
	for (size_t i = 0; i < ncand; i++)
		free(cand[i].name);
	free(cand);
	free(waiting.name);
	free(feeds);
}

/* check_disk: pause claiming while the state disk is short of min_free. */
static void check_disk(struct daemon *d, const struct conf *c)
{
	unsigned long long free_bytes = disk_free(c->state);
	char why[512] = "";

	if (free_bytes < c->min_free)
		snprintf(why, sizeof(why), "the state disk %s has %llu bytes free, less than min_free "
					   "(%llu): new files stay in the inbound directories",
			 c->state, free_bytes, c->min_free);
	if (strcmp(why, d->paused) != 0) {
		if (why[0])
			log_simple(LOG_ERROR, "claiming_paused", "%s", why);
		else
			log_simple(LOG_INFO, "claiming_resumed", "disk space is back");
		snprintf(d->paused, sizeof(d->paused), "%s", why);
		ledger_note_set(d->ledger, "paused", why);
	}
}

static void scan_all(struct daemon *d)
{
	const struct conf *c = current_conf(d);
	DIR *dh;
	struct dirent *e;

	strlist_clear(&d->closed_before);
	d->closed_before = d->closed;
	d->closed = (struct strlist)STRLIST_INIT;
	d->scan++;
	check_disk(d, c);
	watch_dir(d, c->spool, TREE_EVENTS);
	dh = opendir(c->spool);
	while (dh && (e = readdir(dh)) != NULL) {
		char *proot;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		proot = xasprintf("%s/%s", c->spool, e->d_name);
		if (stat(proot, &st) == 0 && S_ISDIR(st.st_mode)) {
			watch_tree(d, c, e->d_name);
			for (size_t i = 0; i < c->nfeeds; i++) {
				char *dir;
				int dup = 0;
				if (!partner_matches(&c->feeds[i], e->d_name))
					continue;
				for (size_t k = 0; k < i; k++) /* one scan a directory */
					dup |= strcmp(c->feeds[k].dir, c->feeds[i].dir) == 0 &&
					       partner_matches(&c->feeds[k], e->d_name);
				if (dup)
					continue;
				dir = xasprintf("%s/%s", proot, c->feeds[i].dir);
				scan_dir(d, c, e->d_name, dir);
				free(dir);
			}
		}
		free(proot);
	}
	if (dh)
		closedir(dh);
	forget_what_scan_left(d);
}

/* --- dispatching ------------------------------------------------------------------ */

struct pick {
	struct daemon *d;
	time_t now;
	struct strlist chosen; /* keys that have their file this round */
};

static int is_running(struct daemon *d, long long id)
{
	for (size_t i = 0; i < d->nrunning; i++)
		if (d->running[i] == id)
			return 1;
	return 0;
}

/* consider: files come oldest first; each free key takes its first, unless that waits */
static void consider(void *ctx, const struct ledger_file *f)
{
	struct pick *p = ctx;
	struct daemon *d = p->d;
	char *key = key_of(f->partner, f->feed);

	if (is_running(d, f->id)) {
		/* taken by a worker, perhaps not yet marked busy: it holds its key */
		if (!strlist_has(&p->chosen, key))
			strlist_push(&p->chosen, key);
	} else if (!strlist_has(&p->chosen, key) && !strlist_has(&d->busy, key)) {
		strlist_push(&p->chosen, key);
		/* a deferred file, or a claim waiting for its retry, not yet due holds its
		   key: order is kept */
		if ((strcmp(f->state, ST_DEFERRED) != 0 && strcmp(f->state, ST_RECEIVED) != 0) ||
		    f->next_try <= p->now) {
			d->queue = xreallocarray(d->queue, d->nqueue + 1, sizeof(*d->queue));
			d->queue[d->nqueue++] = f->id;
		}
	}
	free(key);
}

/* dispatch: the queue again, from the ledger: each free partner+feed, its oldest file. */
static void dispatch(struct daemon *d)
{
	struct pick p = { d, time(NULL), STRLIST_INIT };

	if (stop_flag)
		return;
	pthread_mutex_lock(&d->lock);
	d->nqueue = 0;
	/* only what can start: the oldest file in flight of each partner and feed */
	ledger_each(d->ledger, "id IN (SELECT min(id) FROM files WHERE state IN ('received',"
			       "'processing','submitting','deferred') GROUP BY partner, feed)",
		    1, MAX_QUEUE, consider, &p);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	strlist_clear(&p.chosen);
}

/* --- one file, start to end ---------------------------------------------------------- */

static void write_simple_report(const struct conf *c, const struct feed *f, long long id,
				const char *partner, const char *name, const char *state,
				const char *message)
{
	struct report r;
	struct report_summary sum = { id, f->name, state, 0, 0, 0, 0 };
	struct buf err = BUF_INIT(4096);
	char *dir = reports_dir(c, f, partner);

	if (mkdirs(dir, 0755, &err) == 0 && report_open(&r, dir, name, &err) == 0) {
		report_message(&r, message);
		if (report_finish(&r, &sum, &err) < 0)
			log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
		report_release(&r);
	} else {
		log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
	}
	free(dir);
	buf_release(&err);
}

/* parser_hit_by_stop: a parser killed by SIGTERM or SIGINT was most likely hit by the stop sent
 * to the whole process group (systemctl stop, Ctrl-C): that parks the file, it does not fail it.
 * Our own copy of the signal may be a moment behind the child's death: wait for it briefly. */
static int parser_hit_by_stop(int status)
{
	if (!WIFSIGNALED(status) || (WTERMSIG(status) != SIGTERM && WTERMSIG(status) != SIGINT))
		return 0;
	for (int i = 0; i < 50 && !stop_flag; i++)
		usleep(20000);
	return stop_flag != 0;
}

/* run_worker: the file parsed by `dropgate check` in a sandboxed child with no secrets. */
static int run_worker(struct daemon *d, const struct conf *c, const struct feed *f,
		      const char *file, const char *outdir, int *stopped)
{
	struct parser_child pc;
	struct buf err = BUF_INIT(1024);
	struct rlimit cpu = { c->worker_cpu, c->worker_cpu + 5 };
	struct rlimit fsize = { c->max_file_size * 4, c->max_file_size * 4 };
	struct rlimit as = { c->worker_memory, c->worker_memory };
	int status = 0;
	pid_t pid;

	*stopped = 0;
	if (parser_child_prepare(&pc, d->self, c, f, file, outdir, &err) < 0) {
		log_simple(LOG_ERROR, "parser_failed", "%s", buf_cstr(&err));
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	pid = fork();
	if (pid < 0) {
		parser_child_release(&pc);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		setrlimit(RLIMIT_CPU, &cpu);
		setrlimit(RLIMIT_FSIZE, &fsize);
#ifndef DG_SANITIZERS
		/* AddressSanitizer cannot run under an address-space limit */
		setrlimit(RLIMIT_AS, &as);
#else
		(void)as;
#endif
		parser_child_exec(&pc, null);
	}
	parser_child_release(&pc);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (stop_flag && !*stopped) {
			kill(pid, SIGKILL);
			*stopped = 1;
		}
		usleep(20000);
	}
	if (!*stopped)
		*stopped = parser_hit_by_stop(status);
	return status;
}

struct file_job {
	struct daemon *d;
	const struct conf *c;
	const struct feed *f;
	struct ledger_file lf;
	char *wd;      /* work/<id> */
	char *outdir;  /* work/<id>/out: the worker's batches and report */
	char *file;    /* work/<id>/<name> */
};

/* hook_recorded: an answer given before a restart is used again; only "sent" goes again */
static int hook_recorded(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			 const char *rows, struct answer *a)
{
	struct file_job *j = ctx;
	struct ledger_request r;
	int found;

	if (ledger_request_get(j->d->ledger, j->lf.id, t->name, seq, sub, &r) < 0)
		return 0;
	found = strcmp(r.state, "sent") != 0 && strcmp(r.rows, rows) == 0 &&
		answer_from_json(a, r.answer) == 0;
	ledger_request_release(&r);
	return found;
}

static int hook_before(void *ctx, const struct target *t, unsigned seq, unsigned sub,
		       const char *rows)
{
	struct file_job *j = ctx;

	return ledger_request_set(j->d->ledger, j->lf.id, t->name, seq, sub, rows, "sent", NULL, NULL);
}

static void hook_answered(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			  const char *rows, const struct answer *a, const char *settles)
{
	struct file_job *j = ctx;
	char *json;

	if (a->cls == ANSWER_TRANSIENT)
		return; /* not an answer: the request stays "sent", to be sent again */
	json = answer_to_json(a);
	ledger_request_set(j->d->ledger, j->lf.id, t->name, seq, sub, rows,
			   a->cls == ANSWER_DONE ? "done" : "refused", json, settles);
	free(json);
}

/* hook_stop: a stop, or a ledger or fsync that failed (the daemon stops at its next tick):
 * send nothing more, park the file. */
static int hook_stop(void *ctx)
{
	struct file_job *j = ctx;

	return stop_flag || ledger_failed(j->d->ledger) || spool_fsync_failed();
}

static void hook_settled(void *ctx, const struct target *t, unsigned seq, const char *state)
{
	struct file_job *j = ctx;

	ledger_batch_set(j->d->ledger, j->lf.id, t->name, seq, state, NULL);
}

static const struct submit_hooks hooks_proto = { hook_recorded, hook_before, hook_answered,
						 hook_settled, hook_stop, NULL };

/* unpack_like: a name that says the bytes are compressed already. */
static int unpack_like(const char *name)
{
	size_t n = strlen(name);

	return (n > 3 && strcmp(name + n - 3, ".gz") == 0) || (n > 4 && strcmp(name + n - 4, ".zip") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".tgz") == 0);
}

/* finish: the report, the original archived or parked in failed/, the work gone. */
static void finish(struct file_job *j, const char *state, const char *message)
{
	const struct conf *c = j->c;
	struct buf err = BUF_INIT(4096);
	int failed = strcmp(state, ST_FAILED) == 0;
	char *dest;

	if (failed) {
		char *dir = xasprintf("%s/failed/%s/%s", c->state, j->lf.partner, j->lf.feed);
		dest = xasprintf("%s/%s", dir, j->lf.name);
		if (access(dest, F_OK) == 0) {
			char *base = report_base(j->lf.name, 21); /* room for ".<id>" */
			free(dest);
			dest = xasprintf("%s/%s.%lld", dir, base, j->lf.id);
			free(base);
		}
		/* a second name first: until the state is written, the work copy stays */
		if (mkdirs(dir, 0750, &err) < 0 || spool_link_or_copy(j->file, dest, &err) < 0)
			log_simple(LOG_ERROR, "park_failed", "%s", buf_cstr(&err));
		else {
			/* the reports beside the original, for the operator */
			char *rdir = reports_dir(c, j->f, j->lf.partner);
			for (int k = 0; k < 2; k++) {
				char *from = k ? report_errors_path(rdir, j->lf.name)
					       : report_result_path(rdir, j->lf.name);
				char *to = k ? report_errors_path(dir, strrchr(dest, '/') + 1)
					     : report_result_path(dir, strrchr(dest, '/') + 1);
				struct buf e2 = BUF_INIT(4096);
				if (access(from, F_OK) == 0)
					spool_link_or_copy(from, to, &e2);
				free(from);
				free(to);
				buf_release(&e2);
			}
			free(rdir);
		}
		free(dir);
	} else {
		char *dir = xasprintf("%s/archive/%s/%s", c->state, j->lf.partner, j->lf.feed);
		int packed = unpack_like(j->lf.name);
		char *base = report_base(j->lf.name, 21 + 3); /* room for "<id>-" and ".gz" */
		dest = xasprintf("%s/%lld-%s%s", dir, j->lf.id, base, packed ? "" : ".gz");
		free(base);
		if (mkdirs(dir, 0750, &err) < 0 ||
		    (packed ? spool_link_or_copy(j->file, dest, &err) : spool_gzip(j->file, dest, &err)) < 0)
			log_simple(LOG_ERROR, "archive_failed", "%s", buf_cstr(&err));
		free(dir);
	}
	if (err.len == 0 && ledger_set_path(j->d->ledger, j->lf.id, dest, NULL) < 0)
		buf_printf(&err, "the ledger did not take the new path");
	if (ledger_set_state(j->d->ledger, j->lf.id, state, message) < 0) {
		/* not on disk: the work copy stays, and the restart finishes the file again */
		log_simple(LOG_ERROR, "file_not_finished", "%s: the ledger did not take its end state "
							   "%s; the file is finished again after the restart",
			   j->lf.name, state);
		goto out;
	}
	if (err.len == 0) {
		/* the state is on disk: the work copy can go; else it stays for the restart */
		remove_tree(j->outdir);
		remove_tree(j->wd);
	}
	if ((!strcmp(state, ST_DONE) || !strcmp(state, ST_PARTIAL)) && j->f->mode == MODE_FULL) {
		char key[600], newest[1100];
		snprintf(key, sizeof(key), "full:%s/%s", j->lf.partner, j->lf.feed);
		ledger_note_get(j->d->ledger, key, newest, sizeof(newest));
		if (strcmp(j->lf.name, newest) > 0)
			ledger_note_set(j->d->ledger, key, j->lf.name);
	}
	{
		struct logline l;
		log_begin(&l, failed ? LOG_WARN : LOG_INFO, "file_done");
		log_kvf(&l, "file_id", "%lld", j->lf.id);
		log_kv(&l, "partner", j->lf.partner);
		log_kv(&l, "feed", j->lf.feed);
		log_kv(&l, "file", j->lf.name);
		log_kv(&l, "state", state);
		if (message && *message)
			log_kv(&l, "msg", message);
		log_end(&l);
	}
out:
	free(dest);
	buf_release(&err);
}

/* final_report: worker's messages and the outcome (problems are in already). */
static void final_report(struct file_job *j, struct filecheck *fc, struct submit_state *s,
			 json_t *worker, const char *state)
{
	struct report_summary sum;
	struct buf err = BUF_INIT(4096);
	json_t *msgs = json_object_get(worker, "messages"), *m;
	size_t i;
	long rows = (long)json_integer_value(json_object_get(worker, "rows"));
	long rejected = (long)json_integer_value(json_object_get(worker, "rows_rejected"));

	json_array_foreach(msgs, i, m) {
		const char *text = json_string_value(m);
		if (text && strstr(text, " rows rejected: see ") == NULL)
			report_message(&fc->report, text);
	}
	rejected += (long)s->commerce_rejected;
	if (rejected) {
		buf_printf(&err, "%ld of %ld rows rejected: see %s.errors.csv", rejected, rows,
			   fc->report.name);
		report_message(&fc->report, buf_cstr(&err));
		buf_reset(&err);
	}
	sum.id = j->lf.id;
	sum.feed = j->f->name;
	sum.state = state;
	sum.rows = (unsigned long)rows;
	sum.rows_rejected = (unsigned long)rejected;
	sum.rows_ok = (unsigned long)(rows - rejected);
	sum.batches = (unsigned long)json_integer_value(json_object_get(worker, "batches"));
	ledger_set_counts(j->d->ledger, j->lf.id, rows, rows - rejected, rejected, (long)sum.batches);
	if (report_finish(&fc->report, &sum, &err) < 0)
		log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
	report_release(&fc->report);
	buf_release(&err);
}

/* load_members: the names the worker read, each ended by a NUL (a name may hold a newline). */
static void load_members(struct filecheck *fc)
{
	char *path = filecheck_members_path(fc);

	parsed_members_load(path, &fc->members);
	free(path);
}

static void defer_file(struct file_job *j, const char *why)
{
	unsigned long wait = j->c->retry_deferred;
	char msg[1024];

	for (int k = 0; k < j->lf.attempts && wait < j->c->retry_deferred_max; k++)
		wait *= 2;
	if (wait > j->c->retry_deferred_max)
		wait = j->c->retry_deferred_max;
	snprintf(msg, sizeof(msg), "%s; next try in %lus", why, wait);
	ledger_defer(j->d->ledger, j->lf.id, time(NULL) + (time_t)wait, msg);
	log_simple(LOG_WARN, "file_deferred", "file_id %lld: %s", j->lf.id, msg);
}

/* submit_all: the batches to every target, the report, the end state. */
static void submit_all(struct file_job *j, json_t *worker)
{
	struct filecheck fc;
	struct submit_state s;
	struct submit_hooks hooks = hooks_proto;
	struct buf err = BUF_INIT(4096);
	char *rdir = reports_dir(j->c, j->f, j->lf.partner);
	const char *wstate = json_string_value(json_object_get(worker, "state"));
	unsigned long allowed = j->f->allowed_errors;
	long rejected;
	const char *state;

	memset(&fc, 0, sizeof(fc));
	fc.path = j->file;
	fc.name = j->lf.name;
	fc.outdir = j->outdir;
	fc.feed = j->f;
	fc.res.batches = (unsigned long)json_integer_value(json_object_get(worker, "batches"));
	fc.res.rows = (unsigned long)json_integer_value(json_object_get(worker, "rows"));
	load_members(&fc);
	if (mkdirs(rdir, 0755, &err) < 0 || report_open(&fc.report, rdir, j->lf.name, &err) < 0) {
		log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
		defer_file(j, "the report cannot be written");
		goto out;
	}
	{
		char *errors = report_errors_path(j->outdir, j->lf.name);
		report_take_errors(&fc.report, errors);
		free(errors);
	}
	memset(&s, 0, sizeof(s));
	s.fc = &fc;
	keyset_init(&s.rejected_lines);
	hooks.ctx = j;
	s.hooks = &hooks;
	s.local_rejected = (unsigned long)json_integer_value(json_object_get(worker, "rows_rejected"));
	if (wstate && strcmp(wstate, "rejected") == 0) {
		final_report(j, &fc, &s, worker, ST_FAILED);
		finish(j, ST_FAILED, "the file was rejected: see its report");
		keyset_release(&s.rejected_lines);
		goto out;
	}
	ledger_set_state(j->d->ledger, j->lf.id, ST_SUBMITTING, NULL);
	for (size_t i = 0; i < j->f->targets.n && fc.res.batches > 0 && !s.stopped; i++)
		submit_target(&s, conf_target(j->c, j->f->targets.v[i]));
	if (s.stopped || hook_stop(j)) {
		report_release(&fc.report); /* resumed after the restart */
		keyset_release(&s.rejected_lines);
		goto out;
	}
	if (s.status == EXIT_COMMERCE && s.transient) {
		report_release(&fc.report);
		defer_file(j, "Commerce is unreachable");
		keyset_release(&s.rejected_lines);
		goto out;
	}
	rejected = (long)json_integer_value(json_object_get(worker, "rows_rejected"));
	rejected += (long)s.commerce_rejected;
	if (s.status == EXIT_COMMERCE || s.exceeded)
		state = ST_FAILED;
	else if ((j->f->validation == VALIDATION_STOP && rejected) ||
		 (j->f->validation == VALIDATION_SKIP && (unsigned long)rejected > allowed))
		state = ST_FAILED;
	else
		state = rejected ? ST_PARTIAL : ST_DONE;
	final_report(j, &fc, &s, worker, state);
	finish(j, state, s.status == EXIT_COMMERCE ? "Commerce refused a batch: see the report"
			 : s.exceeded	     ? "more rows rejected than the feed allows: see the report"
					     : "");
	keyset_release(&s.rejected_lines);
out:
	filecheck_release(&fc);
	free(rdir);
	buf_release(&err);
}

static json_t *read_worker_result(const struct file_job *j)
{
	char *path = report_result_path(j->outdir, j->lf.name);
	struct buf err = BUF_INIT(4096);
	json_t *r = parsed_result_load(path, &err);

	if (r == NULL && err.len)
		log_simple(LOG_WARN, "worker_result_refused", "file_id %lld: %s", j->lf.id,
			   buf_cstr(&err));
	free(path);
	buf_release(&err);
	return r;
}

/* park_unknown_feed: the feed was renamed or removed: the file waits, untouched. */
static void park_unknown_feed(struct file_job *j)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "the feed '%s' is no longer configured: the file waits in %s "
				   "until a feed of that name is",
		 j->lf.feed, j->wd);
	ledger_defer(j->d->ledger, j->lf.id, time(NULL) + (time_t)j->c->retry_deferred_max, msg);
	log_simple(LOG_WARN, "file_parked", "file_id %lld: %s", j->lf.id, msg);
}

static void process_file(struct daemon *d, long long id)
{
	struct file_job j;
	struct buf err = BUF_INIT(4096);
	json_t *worker = NULL;

	memset(&j, 0, sizeof(j));
	j.d = d;
	j.c = current_conf(d);
	if (ledger_get(d->ledger, id, &j.lf) < 0)
		return;
	j.f = conf_feed(j.c, j.lf.feed);
	{
		struct logline l;
		log_begin(&l, LOG_INFO, "file_processing");
		log_kvf(&l, "file_id", "%lld", id);
		log_kv(&l, "partner", j.lf.partner);
		log_kv(&l, "feed", j.lf.feed);
		log_kv(&l, "file", j.lf.name);
		log_kv(&l, "state", j.lf.state);
		log_end(&l);
	}
	j.wd = work_dir(j.c, id);
	j.outdir = xasprintf("%s/.out", j.wd); /* a dot-name: never a claimed file's */
	j.file = xasprintf("%s/%s", j.wd, j.lf.name);
	if (strcmp(j.lf.state, ST_RECEIVED) == 0) {
		/* a claim cut short, waiting for a retry, or queued by redrop: finish it
		   from where the ledger says the file is, or leave it to its next try */
		char *from = xstrdup(j.lf.path);
		if (claim_finish(d->ledger, j.c, from) == 0 && j.f && j.f->complete == COMPLETE_OKFILE)
			claim_marker_remove(from);
		free(from);
		if (ledger_get(d->ledger, id, &j.lf) < 0 || strcmp(j.lf.state, ST_PROCESSING) != 0)
			goto out;
	}
	if (j.f == NULL) {
		park_unknown_feed(&j);
		goto out;
	}
	if (j.lf.sha256[0] == '\0') {
		if (sha256_file(j.file, j.lf.sha256, &err) < 0) {
			ledger_set_state(d->ledger, id, ST_FAILED, buf_cstr(&err));
			goto out;
		}
		ledger_set_path(d->ledger, id, j.file, j.lf.sha256);
	}
	if (strcmp(j.lf.state, ST_PROCESSING) == 0 && !j.lf.force) {
		long long same = ledger_find_same(d->ledger, id, j.lf.partner, j.lf.feed, j.lf.sha256,
						  "done,partial");
		char newest[1100];
		char key[600];

		if (same > 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "the same bytes as file %lld, already imported", same);
			write_simple_report(j.c, j.f, id, j.lf.partner, j.lf.name, ST_DUPLICATE, msg);
			finish(&j, ST_DUPLICATE, msg);
			goto out;
		}
		snprintf(key, sizeof(key), "full:%s/%s", j.lf.partner, j.lf.feed);
		ledger_note_get(d->ledger, key, newest, sizeof(newest));
		if (j.f->order == ORDER_NAME && newest[0] && strcmp(j.lf.name, newest) < 0) {
			char msg[1300];
			snprintf(msg, sizeof(msg), "older than the full snapshot %s already imported", newest);
			write_simple_report(j.c, j.f, id, j.lf.partner, j.lf.name, ST_STALE, msg);
			finish(&j, ST_STALE, msg);
			goto out;
		}
	}
	worker = strcmp(j.lf.state, ST_PROCESSING) == 0 ? NULL : read_worker_result(&j);
	if (worker == NULL) {
		/* parse it (again: batches come out the same for the same bytes) */
		int stopped, status;

		remove_tree(j.outdir);
		if (mkdirs(j.outdir, 0750, &err) < 0) {
			defer_file(&j, buf_cstr(&err));
			goto out;
		}
		ledger_set_state(d->ledger, id, ST_PROCESSING, "parsing");
		status = run_worker(d, j.c, j.f, j.file, j.outdir, &stopped);
		if (stopped)
			goto out;
		if (status < 0) { /* no process (fork failed): nothing is wrong with the file */
			char why[256];
			snprintf(why, sizeof(why), "the parser process could not be started: %s",
				 strerror(errno));
			defer_file(&j, why);
			goto out;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_IO) {
			/* the disk failed the parser, not the file: nothing half-written stays */
			remove_tree(j.outdir);
			defer_file(&j, "the parser could not read the file or write its batches "
				       "(a disk error: see the log)");
			goto out;
		}
		if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == EXIT_USAGE ||
		    (worker = read_worker_result(&j)) == NULL) {
			char msg[256];
			if (disk_free(j.c->state) < j.c->min_free) {
				remove_tree(j.outdir); /* nothing half-written stays */
				defer_file(&j, "the state disk is full");
				goto out;
			}
			if (status >= 0 && WIFSIGNALED(status))
				snprintf(msg, sizeof(msg), "the parser process died (signal %d): the file "
							   "is not readable as this feed",
					 WTERMSIG(status));
			else
				snprintf(msg, sizeof(msg), "the parser process failed (exit %d)",
					 status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			write_simple_report(j.c, j.f, id, j.lf.partner, j.lf.name, ST_FAILED, msg);
			finish(&j, ST_FAILED, msg);
			goto out;
		}
	}
	submit_all(&j, worker);
out:
	json_decref(worker);
	free(j.wd);
	free(j.outdir);
	free(j.file);
	buf_release(&err);
}

/*
 * file_is_next: the ledger row is still in flight and the oldest in flight of
 * its partner and feed. Whatever the queue held, a file ended is never taken
 * again, and no file starts before the one ahead of it has ended.
 */
static int file_is_next(struct daemon *d, const struct ledger_file *f)
{
	if (strcmp(f->state, ST_RECEIVED) && strcmp(f->state, ST_PROCESSING) &&
	    strcmp(f->state, ST_SUBMITTING) && strcmp(f->state, ST_DEFERRED))
		return 0;
	return ledger_first_in_flight(d->ledger, f->partner, f->feed) == f->id;
}

static void *worker_main(void *arg)
{
	struct daemon *d = arg;

	pthread_mutex_lock(&d->lock);
	/* a ledger that failed takes no more work: what it says of a file may be stale */
	while (!stop_flag && !ledger_failed(d->ledger)) {
		long long id;
		struct ledger_file f;
		char *key;

		if (d->nqueue == 0) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		id = d->queue[0];
		memmove(d->queue, d->queue + 1, (d->nqueue - 1) * sizeof(*d->queue));
		d->nqueue--;
		if (is_running(d, id))
			continue;
		/* running from the pop on: a dispatch before the key is marked busy must
		   not queue this file again, nor the next file of its key */
		d->running = xreallocarray(d->running, d->nrunning + 1, sizeof(*d->running));
		d->running[d->nrunning++] = id;
		pthread_mutex_unlock(&d->lock);
		key = NULL;
		if (ledger_get(d->ledger, id, &f) == 0 && file_is_next(d, &f)) {
			key = key_of(f.partner, f.feed);
			pthread_mutex_lock(&d->lock);
			if (strlist_has(&d->busy, key)) {
				free(key);
				key = NULL;
			} else {
				strlist_push(&d->busy, key);
			}
			pthread_mutex_unlock(&d->lock);
		}
		if (key)
			process_file(d, id);

		pthread_mutex_lock(&d->lock);
		for (size_t i = 0; key && i < d->busy.n; i++)
			if (strcmp(d->busy.v[i], key) == 0) {
				free(d->busy.v[i]);
				d->busy.v[i] = d->busy.v[--d->busy.n];
				break;
			}
		for (size_t i = 0; i < d->nrunning; i++)
			if (d->running[i] == id) {
				d->running[i] = d->running[--d->nrunning];
				break;
			}
		if (key == NULL)
			continue;
		free(key);
		if (write(sig_pipe[1], "w", 1) < 0) {
			/* the main loop wakes on its tick anyway */
		}
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/*
 * exporter_main: the exports on their schedules, in a thread of their own so
 * that a slow Commerce never holds up the spool. A failed run is retried at
 * the next tick's schedule; the watermark has not moved.
 */
static void *exporter_main(void *arg)
{
	struct daemon *d = arg;

	while (!stop_flag) {
		const struct conf *c = current_conf(d);
		time_t now = time(NULL);

		for (size_t i = 0; i < c->nexports && !stop_flag; i++) {
			const struct export *e = &c->exports[i];
			char key[600], v[64], outcome[256];
			time_t last = 0, due;
			struct export_result res;
			struct buf err = BUF_INIT(4096);

			snprintf(key, sizeof(key), "export:%s:last_run", e->name);
			if (ledger_note_get(d->ledger, key, v, sizeof(v)) == 0)
				last = (time_t)strtoll(v, NULL, 10);
			due = export_next_run(e, last);
			if (e->kind == EXPORT_BI) {
				/* a BI day is due once its next day's `at` has passed: missed nights
				   (the daemon was down) are caught up at once, whatever the schedule */
				char day[11];
				if (!bi_next_day(d->ledger, e, now, day) || !bi_day_due(e, day, now)) {
					buf_release(&err);
					continue;
				}
			} else if (due > now) {
				buf_release(&err);
				continue;
			}
			if (e->kind == EXPORT_BI) {
				/* every day not yet exported, up to yesterday: a missed night too */
				char day[11];
				unsigned long rows, total = 0;
				int ok = 1, days = 0;
				while (!stop_flag && bi_next_day(d->ledger, e, now, day) &&
				       bi_day_due(e, day, now) && days++ < 31) {
					if (export_bi(c, e, d->ledger, day, &rows, &err) < 0) {
						ok = 0;
						break;
					}
					total += rows;
					log_simple(LOG_INFO, "export_written", "[export %s]: day %s, %lu rows",
						   e->name, day, rows);
				}
				if (ok)
					snprintf(outcome, sizeof(outcome), "%d day(s), %lu rows", days, total);
				else {
					snprintf(outcome, sizeof(outcome), "failed: %.200s", buf_cstr(&err));
					log_simple(LOG_WARN, "export_failed", "[export %s]: %s", e->name,
						   buf_cstr(&err));
				}
			} else if (export_orders(c, e, d->ledger, &res, &err) < 0) {
				snprintf(outcome, sizeof(outcome), "failed: %.200s", buf_cstr(&err));
				log_simple(LOG_WARN, "export_failed", "[export %s]: %s", e->name,
					   buf_cstr(&err));
			} else {
				snprintf(outcome, sizeof(outcome), "%lu orders, %lu items", res.orders,
					 res.items);
				if (res.file[0]) {
					struct logline l;
					log_begin(&l, LOG_INFO, "export_written");
					log_kv(&l, "export", e->name);
					log_kv(&l, "file", res.file);
					log_kvf(&l, "orders", "%lu", res.orders);
					log_end(&l);
				}
			}
			/* a failure is tried again at the next schedule: last_run moves, the
			   watermark does not */
			export_record(d->ledger, e, now, outcome);
			buf_release(&err);
		}
		for (int k = 0; k < 10 && !stop_flag; k++)
			usleep(100000);
	}
	return NULL;
}

/* prune: archived originals older than keep_days (since archived) go. */
static void prune(const struct conf *c)
{
	char *root = xasprintf("%s/archive", c->state);
	DIR *p = opendir(root);
	struct dirent *e1, *e2, *e3;
	time_t limit = time(NULL) - (time_t)c->keep_days * 86400;

	while (p && (e1 = readdir(p)) != NULL) {
		char *pd;
		DIR *f;
		if (e1->d_name[0] == '.')
			continue;
		pd = xasprintf("%s/%s", root, e1->d_name);
		f = opendir(pd);
		while (f && (e2 = readdir(f)) != NULL) {
			char *fd_;
			DIR *x;
			if (e2->d_name[0] == '.')
				continue;
			fd_ = xasprintf("%s/%s", pd, e2->d_name);
			x = opendir(fd_);
			while (x && (e3 = readdir(x)) != NULL) {
				char *path = xasprintf("%s/%s", fd_, e3->d_name);
				struct stat st;
				/* ctime, the archive's own stamp (its link or rename set it): a
				   hard-linked archive keeps the partner's mtime, maybe years old */
				if (e3->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
				    st.st_ctime < limit) {
					unlink(path);
					log_simple(LOG_INFO, "archive_pruned", "%s", path);
				}
				free(path);
			}
			if (x)
				closedir(x);
			free(fd_);
		}
		if (f)
			closedir(f);
		free(pd);
	}
	if (p)
		closedir(p);
	free(root);
}

/* clean_work: work directories of files that reached their end (a crash after the state). */
static void clean_work(struct daemon *d)
{
	char *root = xasprintf("%s/work", d->conf->state);
	DIR *dh = opendir(root);
	struct dirent *e;

	while (dh && (e = readdir(dh)) != NULL) {
		struct ledger_file f;
		char *end;
		long long id = strtoll(e->d_name, &end, 10);

		if (*end || id <= 0)
			continue;
		if (ledger_get(d->ledger, id, &f) < 0 || !strcmp(f.state, ST_DONE) ||
		    !strcmp(f.state, ST_PARTIAL) || !strcmp(f.state, ST_FAILED) ||
		    !strcmp(f.state, ST_DUPLICATE) || !strcmp(f.state, ST_STALE)) {
			char *wd = xasprintf("%s/%s", root, e->d_name), *out = xasprintf("%s/.out", wd);
			if (ledger_get(d->ledger, id, &f) == 0) { /* unknown ids stay for a person */
				remove_tree(out);
				remove_tree(wd);
			}
			free(wd);
			free(out);
		}
	}
	if (dh)
		closedir(dh);
	free(root);
}

/* joined: has thread t ended by deadline? */
static int joined(pthread_t t, const struct timespec *deadline)
{
	return pthread_timedjoin_np(t, NULL, deadline) == 0;
}

/*
 * join_or_exit: the threads end, or the process does. A stop must finish
 * whatever failed: a thread stuck on a locked ledger or a silent Commerce
 * holds it STOP_GRACE_S at most, and another SIGTERM or SIGINT not at all.
 * Exiting then is as safe as kill -9, which the ledger and spool survive.
 */
static void join_or_exit(struct daemon *d, pthread_t exporter, int rc)
{
	sig_atomic_t asked = stop_signals;
	time_t end = time(NULL) + STOP_GRACE_S;
	size_t done = 0;

	while (done <= d->nthreads) {
		struct timespec step;
		pthread_t t = done < d->nthreads ? d->threads[done] : exporter;

		clock_gettime(CLOCK_REALTIME, &step);
		step.tv_nsec += 100 * 1000000L;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		if (joined(t, &step)) {
			done++;
			continue;
		}
		if (stop_signals != asked || time(NULL) >= end) {
			log_simple(LOG_ERROR, "stop_forced",
				   "%s: exiting with threads still busy; files in hand resume at the "
				   "next start",
				   stop_signals != asked ? "asked again to stop" : "the stop took too long");
			_exit(rc ? rc : 1);
		}
	}
}

int daemon_run(const char *confpath)
{
	struct daemon d;
	struct buf err = BUF_INIT(64 * 1024);
	struct sigaction sa;
	char *ledger_path;
	pthread_t exporter;
	int rc = 0;

	memset(&d, 0, sizeof(d));
	d.confpath = realpath(confpath, NULL);
	if (d.confpath == NULL) {
		fprintf(stderr, "dropgate run: %s: %s\n", confpath, strerror(errno));
		return EXIT_USAGE;
	}
	d.conf = conf_load(d.confpath, &err);
	if (d.conf == NULL) {
		fputs(buf_cstr(&err), stderr);
		fprintf(stderr, "dropgate run: the configuration has errors: not starting\n");
		free(d.confpath);
		buf_release(&err);
		return EXIT_USAGE;
	}
	log_set_level((enum log_level)d.conf->log_level);
	if (readlink("/proc/self/exe", d.self, sizeof(d.self) - 1) < 0) {
		fprintf(stderr, "dropgate run: cannot find its own program: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	sandbox_daemon_start(); /* before the threads: it forks to try a namespace */
	for (int k = 0; k < 3; k++) {
		char *dir = xasprintf("%s/%s", d.conf->state, k == 0 ? "work" : k == 1 ? "archive" : "failed");
		if (mkdirs(dir, 0750, &err) < 0) {
			fprintf(stderr, "dropgate run: %s\n", buf_cstr(&err));
			free(dir);
			return EXIT_USAGE;
		}
		free(dir);
	}
	if (mkdirs(d.conf->spool, 0755, &err) < 0) {
		fprintf(stderr, "dropgate run: %s\n", buf_cstr(&err));
		return EXIT_USAGE;
	}
	ledger_path = xasprintf("%s/ledger.db", d.conf->state);
	d.ledger = ledger_open(ledger_path, &err);
	free(ledger_path);
	if (d.ledger == NULL) {
		fprintf(stderr, "dropgate run: %s\n", buf_cstr(&err));
		return EXIT_USAGE;
	}
	d.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0 || d.inotify_fd < 0) {
		fprintf(stderr, "dropgate run: %s\n", strerror(errno));
		return EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	commerce_global_init();
	commerce_set_default_stop(stopping, NULL); /* an export on a silent Commerce stops too */
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.cond, NULL);
	{
		char pid[32];
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		ledger_note_set(d.ledger, "daemon.pid", pid);
	}
	clean_work(&d);
	claim_clean_stages(d.ledger, d.conf);
	d.nthreads = d.conf->workers;
	d.threads = xcalloc(d.nthreads, sizeof(*d.threads));
	for (size_t i = 0; i < d.nthreads; i++)
		pthread_create(&d.threads[i], NULL, worker_main, &d);
	pthread_create(&exporter, NULL, exporter_main, &d);
	log_simple(LOG_INFO, "started", "spool %s, state %s, %zu workers", d.conf->spool,
		   d.conf->state, d.nthreads);
	d.need_rescan = 1;
	while (!stop_flag) {
		struct pollfd pfd[2] = { { d.inotify_fd, POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 } };
		time_t now = time(NULL);
		const struct conf *c = current_conf(&d);
		char drain[64];

		if (d.need_rescan || now >= d.next_rescan || d.nseen > 0 || d.closed.n > 0 ||
		    d.paused[0]) {
			d.need_rescan = 0;
			if (now >= d.next_rescan)
				d.next_rescan = now + (time_t)c->rescan;
			scan_all(&d);
		}
		if (now >= d.next_prune) {
			prune(c);
			d.next_prune = now + 3600;
		}
		dispatch(&d);
		if (spool_fsync_failed()) {
			log_simple(LOG_ERROR, "stopping", "an fsync failed: what is on disk is unknown, "
							  "so the daemon stops rather than retrying it");
			stop_flag = 1;
			rc = 1;
			break;
		}
		if (ledger_failed(d.ledger)) {
			log_simple(LOG_ERROR, "stopping", "the ledger cannot be written: stopping rather "
							  "than losing track of files");
			stop_flag = 1;
			rc = 1;
			break;
		}
		if (poll(pfd, 2, TICK_MS) > 0) {
			if (pfd[0].revents & POLLIN) {
				read_events(&d);
				d.need_rescan = 1;
			}
			if (pfd[1].revents & POLLIN)
				while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
					;
		}
		if (reload_flag) {
			reload_flag = 0;
			reload(&d);
		}
	}
	log_simple(LOG_INFO, "stopping", "finishing or parking the files in hand");
	pthread_mutex_lock(&d.lock);
	pthread_cond_broadcast(&d.cond);
	pthread_mutex_unlock(&d.lock);
	join_or_exit(&d, exporter, rc);
	if (!ledger_failed(d.ledger)) /* else it would wait on the lock that failed it */
		ledger_note_set(d.ledger, "daemon.pid", "");
	ledger_close(d.ledger);
	close(d.inotify_fd);
	log_simple(rc ? LOG_ERROR : LOG_INFO, "stopped", rc ? "stopped after a failure" : "clean stop");
	for (size_t i = 0; i < d.nretired; i++)
		conf_free(d.retired[i]);
	free(d.retired);
	conf_free(d.conf);
	free(d.confpath);
	strlist_clear(&d.watched);
	strlist_clear(&d.closed);
	strlist_clear(&d.closed_before);
	strlist_clear(&d.unmatched);
	strlist_clear(&d.busy);
	for (size_t i = 0; i < d.nseen; i++)
		free(d.seen[i].path);
	free(d.seen);
	free(d.wds);
	free(d.queue);
	free(d.running);
	free(d.threads);
	buf_release(&err);
	return rc;
}
