/*
 * watch - how the daemon learns that a partner's upload has ended.
 *
 * inotify on the spool root, each partner and every directory down to each
 * feed directory; close and rename events are remembered per path until a
 * scan takes them. inotify is a hint, the directory is the truth: a scan
 * looks at every file, and watch_ready says whether its upload has ended by
 * the feed's arrival rule (close, ok-file, quiet:N), counting quiet time for
 * files it has seen before. Nothing here reads a file or touches the ledger.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "arrive/watch.h"
#include "claim/claim.h"
#include "queue/spool.h"
#include "util/log.h"
#include "util/xalloc.h"

#define FEED_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB)

int watch_open(struct watch *w)
{
	memset(w, 0, sizeof(*w));
	w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->need_rescan = 1;
	return w->inotify_fd < 0 ? -1 : 0;
}

void watch_close(struct watch *w)
{
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	strlist_clear(&w->watched);
	strlist_clear(&w->closed);
	strlist_clear(&w->closed_before);
	strlist_clear(&w->unmatched);
	for (size_t i = 0; i < w->nseen; i++)
		free(w->seen[i].path);
	free(w->seen);
	free(w->wds);
	memset(w, 0, sizeof(*w));
	w->inotify_fd = -1;
}

void watch_scan_begin(struct watch *w)
{
	strlist_clear(&w->closed_before);
	w->closed_before = w->closed;
	w->closed = (struct strlist)STRLIST_INIT;
	w->scan++;
}

int watch_pending(const struct watch *w)
{
	return w->need_rescan || w->nseen > 0 || w->closed.n > 0;
}

void watch_unmatched(struct watch *w, const char *path)
{
	if (strlist_has(&w->unmatched, path))
		return;
	strlist_push(&w->unmatched, path);
	log_simple(LOG_INFO, "file_ignored", "%s matches no feed's match patterns; left alone",
		   path);
}

void watch_dir(struct watch *w, const char *dir, uint32_t mask)
{
	int wd;

	if (strlist_has(&w->watched, dir))
		return;
	wd = inotify_add_watch(w->inotify_fd, dir, mask);
	if (wd < 0)
		return;
	strlist_push(&w->watched, dir);
	w->wds = xreallocarray(w->wds, w->watched.n, sizeof(*w->wds));
	w->wds[w->watched.n - 1] = wd;
}

static const char *watched_path(const struct watch *w, int wd)
{
	for (size_t i = 0; i < w->watched.n; i++)
		if (w->wds[i] == wd)
			return w->watched.v[i];
	return NULL;
}

/* watch_tree: the spool, each partner, and every directory down to each feed dir. */
void watch_tree(struct watch *w, const struct conf *c, const char *partner)
{
	for (size_t i = 0; i < c->nfeeds; i++) {
		const struct feed *f = &c->feeds[i];
		char *path, *s;

		if (!feed_serves(f, partner))
			continue;
		path = xasprintf("%s/%s/%s", c->spool, partner, f->dir);
		/* each existing ancestor below the partner root, then the feed dir */
		for (s = path + strlen(c->spool) + 1; (s = strchr(s, '/')) != NULL; s++) {
			*s = '\0';
			watch_dir(w, path, TREE_EVENTS);
			*s = '/';
		}
		watch_dir(w, path, FEED_EVENTS);
		free(path);
	}
}

void watch_read_events(struct watch *w)
{
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(w->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			if (e->mask & IN_Q_OVERFLOW) {
				log_simple(LOG_WARN, "inotify_overflow",
					   "events were lost: a full rescan");
				w->need_rescan = 1;
			} else if (e->mask & IN_ISDIR) {
				w->need_rescan = 1; /* a new partner or feed directory */
			} else if (e->len && (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) &&
				   !spool_ignored_name(e->name)) {
				const char *dir = watched_path(w, e->wd);
				if (dir) {
					char *path = xasprintf("%s/%s", dir, e->name);
					if (!strlist_has(&w->closed, path))
						strlist_push(&w->closed, path);
					free(path);
				}
			}
			p += sizeof(*e) + e->len;
		}
	}
}

void watch_forget(struct watch *w, const char *path)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (strcmp(w->seen[i].path, path) == 0) {
			free(w->seen[i].path);
			w->seen[i] = w->seen[--w->nseen];
			return;
		}
}

/* quiet_for: seconds path has kept its size and mtime across scans. */
static time_t quiet_for(struct watch *w, const char *path, const struct stat *st, time_t now)
{
	for (size_t i = 0; i < w->nseen; i++) {
		struct seen *s = &w->seen[i];
		if (strcmp(s->path, path) != 0)
			continue;
		s->scan = w->scan;
		if (s->size != st->st_size || s->mtime != st->st_mtime) {
			s->size = st->st_size;
			s->mtime = st->st_mtime;
			s->since = now;
		}
		return now - s->since;
	}
	w->seen = xreallocarray(w->seen, w->nseen + 1, sizeof(*w->seen));
	w->seen[w->nseen].path = xstrdup(path);
	w->seen[w->nseen].size = st->st_size;
	w->seen[w->nseen].mtime = st->st_mtime;
	w->seen[w->nseen].since = now;
	w->seen[w->nseen].scan = w->scan;
	w->nseen++;
	return 0;
}

int watch_take_closed(struct watch *w, const char *path)
{
	return strlist_remove(&w->closed, path) | strlist_remove(&w->closed_before, path);
}

/*
 * forget_what_scan_left: after a full scan, what it did not take goes: close
 * events of names no feed reads (or gone), files no longer waiting to settle,
 * unmatched names no longer there. Memory stays the size of the spool, and a
 * leftover does not make every tick a rescan.
 */
void watch_scan_end(struct watch *w)
{
	struct stat st;

	strlist_clear(&w->closed_before);
	for (size_t i = 0; i < w->nseen;)
		if (w->seen[i].scan != w->scan) {
			free(w->seen[i].path);
			w->seen[i] = w->seen[--w->nseen];
		} else {
			i++;
		}
	for (size_t i = 0; i < w->unmatched.n;)
		if (lstat(w->unmatched.v[i], &st) < 0) {
			free(w->unmatched.v[i]);
			w->unmatched.v[i] = w->unmatched.v[--w->unmatched.n];
		} else {
			i++;
		}
}

/* ready: has the upload of dir/name ended, by the feed's arrival rule? */
int watch_ready(struct watch *w, const struct conf *c, const struct feed *f, const char *dir,
		const char *name, const struct stat *st, time_t now, int closed)
{
	char *path = xasprintf("%s/%s", dir, name);
	int r = 0;

	switch (f->complete) {
	case COMPLETE_OKFILE:
		r = claim_marker_fresh(path, st); /* a marker older than the file is left over */
		break;
	case COMPLETE_QUIET:
		r = quiet_for(w, path, st, now) >= (time_t)f->quiet_seconds;
		break;
	case COMPLETE_CLOSE: {
		/* the close event says so; the safety net waits for quiet, and a file too
		   young for it is looked at again each tick (seen), not at the next rescan */
		time_t quiet = quiet_for(w, path, st, now);
		r = closed || (now - st->st_mtime >= (time_t)c->settle &&
			       quiet >= (time_t)(c->settle < 2 ? c->settle : 2));
		break;
	}
	}
	free(path);
	return r;
}

int feed_serves(const struct feed *f, const char *partner)
{
	for (size_t i = 0; i < f->partners.n; i++)
		if (fnmatch(f->partners.v[i], partner, 0) == 0)
			return 1;
	return 0;
}
