/*
 * scan - a partner's feed directories looked at, and each file whose upload
 * has ended claimed, in the feed's order (name or mtime).
 *
 * Only regular files with one link, at most max_file_size, are claimed
 * (claim/claim.c); others are refused once, with a report, and never read.
 * Order per partner and feed is a promise: the claims of one directory stop
 * at the first file still arriving, and at the first the ledger could not
 * record. While the state disk is short of min_free nothing is claimed.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "arrive/scan.h"
#include "claim/claim.h"
#include "outcome/reports.h"
#include "queue/ledger.h"
#include "queue/notes.h"
#include "queue/spool.h"
#include "util/log.h"
#include "util/xalloc.h"

static void claim_refused(struct arrivals *a, const struct conf *c, const struct feed **feeds,
			  size_t nfeeds, const char *partner, const char *dir, const char *name,
			  const struct stat *st, const char *why)
{
	char *from = xasprintf("%s/%s", dir, name);
	long long *ids = xcalloc(nfeeds, sizeof(*ids));
	struct logline l;

	if (claim_refuse(a->ledger, feeds, nfeeds, partner, from, st, why, ids) > 0) {
		for (size_t i = 0; i < nfeeds; i++)
			report_simple(c, feeds[i], ids[i], partner, name, ST_REFUSED, why);
		claim_move_aside(a->ledger, c, feeds[0], partner, from, st, ids, nfeeds);
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
/* matching: the feeds of a directory whose match takes name, into out; how many */
static size_t matching(const struct feed **feeds, size_t nfeeds, const char *name,
		       const struct feed **out)
{
	size_t n = 0;

	for (size_t i = 0; i < nfeeds; i++)
		if (strlist_match(&feeds[i]->match, name))
			out[n++] = feeds[i];
	return n;
}

static int claim(struct arrivals *a, const struct conf *c, const struct feed **feeds, size_t nfeeds,
		 const char *partner, const char *dir, const char *name, const struct stat *st)
{
	char *from = xasprintf("%s/%s", dir, name);
	long long id = claim_file(a->ledger, c, feeds, nfeeds, partner, from, st);

	if (id > 0 && feeds[0]->complete == COMPLETE_OKFILE)
		claim_marker_remove(from);
	watch_forget(&a->w, from);
	free(from);
	return id < 0 ? -1 : 0;
}

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

/* feeds_of_dir: the partner's feeds that read dir (into feeds); how many. */
static size_t feeds_of_dir(const struct conf *c, const char *partner, const char *dir,
			   const struct feed **feeds)
{
	const char *rel = dir + strlen(c->spool) + 1 + strlen(partner) + 1;
	size_t n = 0;

	for (size_t i = 0; i < c->nfeeds; i++)
		if (strcmp(c->feeds[i].dir, rel) == 0 && feed_serves(&c->feeds[i], partner))
			feeds[n++] = &c->feeds[i];
	return n;
}

/* refusal: why an entry is not taken (never read), or NULL for a file dropgate takes. */
static const char *refusal(const struct conf *c, const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return "a symbolic link: refused, not read";
	if (!S_ISREG(st->st_mode))
		return "not a regular file: refused, not read";
	if (st->st_nlink != 1)
		return "a file with several hard links: refused, not read";
	if ((unsigned long long)st->st_size > c->max_file_size)
		return "larger than max_file_size: refused";
	return NULL;
}

/* scan_dir: claim every ready file of one partner's feed directory, in order. */
static void scan_dir(struct arrivals *a, const struct conf *c, const char *partner, const char *dir)
{
	const struct feed **feeds = xcalloc(c->nfeeds, sizeof(*feeds));
	const struct feed **takers = xcalloc(c->nfeeds, sizeof(*takers)); /* a file's feeds */
	size_t nfeeds = 0, ntakers;
	struct candidate *cand = NULL, waiting = {NULL, {0}};
	size_t ncand = 0;
	time_t now = time(NULL);
	DIR *dh;
	struct dirent *e;

	nfeeds = feeds_of_dir(c, partner, dir, feeds);
	dh = nfeeds ? opendir(dir) : NULL;
	while (dh && (e = readdir(dh)) != NULL) {
		struct candidate cd;
		const char *why;
		char *path;
		int closed;

		if (spool_ignored_name(e->d_name))
			continue;
		/* each feed reading the directory takes the names its match takes */
		ntakers = matching(feeds, nfeeds, e->d_name, takers);
		path = xasprintf("%s/%s", dir, e->d_name);
		if (ntakers == 0) {
			watch_unmatched(&a->w, path);
			free(path);
			continue;
		}
		if (lstat(path, &cd.st) < 0) {
			free(path);
			continue;
		}
		if ((why = refusal(c, &cd.st)) != NULL) {
			if (!ledger_in_flight_path(a->ledger, path))
				claim_refused(a, c, takers, ntakers, partner, dir, e->d_name,
					      &cd.st, why);
			free(path);
			continue;
		}
		closed = watch_take_closed(&a->w, path);
		if (ledger_in_flight_path(a->ledger, path)) {
			/* claimed already, its claim waiting for a retry: never a second row */
			watch_forget(&a->w, path);
			free(path);
			continue;
		}
		if (!watch_ready(&a->w, c, feeds[0], dir, e->d_name, &cd.st, now, closed)) {
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
		if (again || a->paused[0] || a->stop())
			continue;
		ntakers = matching(feeds, nfeeds, cand[i].name, takers);
		if (claim(a, c, takers, ntakers, partner, dir, cand[i].name, &cand[i].st) < 0)
			break; /* unrecorded: a later name claimed now would go first */
	}
	for (size_t i = 0; i < ncand; i++)
		free(cand[i].name);
	free(cand);
	free(waiting.name);
	free(takers);
	free(feeds);
}

/* check_disk: pause claiming while the state disk is short of min_free. */
static void check_disk(struct arrivals *a, const struct conf *c)
{
	unsigned long long free_bytes = disk_free(c->state);
	char why[512] = "";

	if (free_bytes < c->min_free)
		snprintf(why, sizeof(why),
			 "the state disk %s has %llu bytes free, less than min_free "
			 "(%llu): new files stay in the inbound directories",
			 c->state, free_bytes, c->min_free);
	if (strcmp(why, a->paused) != 0) {
		if (why[0])
			log_simple(LOG_ERROR, "claiming_paused", "%s", why);
		else
			log_simple(LOG_INFO, "claiming_resumed", "disk space is back");
		snprintf(a->paused, sizeof(a->paused), "%s", why);
		ledger_note_set(a->ledger, note_paused(), why);
	}
}

void scan_all(struct arrivals *a, const struct conf *c)
{
	DIR *dh;
	struct dirent *e;

	watch_scan_begin(&a->w);
	check_disk(a, c);
	watch_dir(&a->w, c->spool, TREE_EVENTS);
	dh = opendir(c->spool);
	while (dh && (e = readdir(dh)) != NULL) {
		char *proot;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		proot = xasprintf("%s/%s", c->spool, e->d_name);
		if (stat(proot, &st) == 0 && S_ISDIR(st.st_mode)) {
			watch_tree(&a->w, c, e->d_name);
			for (size_t i = 0; i < c->nfeeds; i++) {
				char *dir;
				int dup = 0;
				if (!feed_serves(&c->feeds[i], e->d_name))
					continue;
				for (size_t k = 0; k < i; k++) /* one scan a directory */
					dup |= strcmp(c->feeds[k].dir, c->feeds[i].dir) == 0 &&
					       feed_serves(&c->feeds[k], e->d_name);
				if (dup)
					continue;
				dir = xasprintf("%s/%s", proot, c->feeds[i].dir);
				scan_dir(a, c, e->d_name, dir);
				free(dir);
			}
		}
		free(proot);
	}
	if (dh)
		closedir(dh);
	watch_scan_end(&a->w);
}
