/*
 * watch - inotify on the spool and the arrival rules (see watch.c).
 * One struct watch per daemon, used by the main thread only.
 */
#ifndef DG_WATCH_H
#define DG_WATCH_H

#include <stdint.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/conf.h"
#include "util/strlist.h"

#define TREE_EVENTS (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

/* A file seen in a feed directory and not yet ready (quiet:N, settle). */
struct seen {
	char *path;
	off_t size;
	time_t mtime;
	time_t since;	    /* unchanged since */
	unsigned long scan; /* the last scan that saw it */
};

struct watch {
	int inotify_fd;
	struct strlist watched; /* directories with a watch ... */
	int *wds;		/* ... and their watch descriptors */
	int need_rescan;
	struct strlist closed;	      /* spool paths whose writer closed them */
	struct strlist closed_before; /* events no directory took in the scan under way: dropped */
	unsigned long scan;	      /* scans so far */
	struct seen *seen;
	size_t nseen;
	struct strlist unmatched; /* names logged once */
};

/* watch_open: an inotify instance; -1 (errno) when there is none. */
int watch_open(struct watch *w);
void watch_close(struct watch *w);
/* watch_dir: a watch on dir for mask, once. */
void watch_dir(struct watch *w, const char *dir, uint32_t mask);
/* watch_tree: the partner's root and every directory down to each of its feed dirs. */
void watch_tree(struct watch *w, const struct conf *c, const char *partner);
/* watch_read_events: what inotify has, into closed (or need_rescan). */
void watch_read_events(struct watch *w);
/* watch_pending: a scan has something to do (events, files settling, a rescan asked). */
int watch_pending(const struct watch *w);
/* watch_scan_begin / watch_scan_end: around a full scan; the end drops what it left. */
void watch_scan_begin(struct watch *w);
void watch_scan_end(struct watch *w);
/* watch_take_closed: path had a close event (spent by the call). */
int watch_take_closed(struct watch *w, const char *path);
/* watch_forget: path no longer counts as seen (claimed, or gone). */
void watch_forget(struct watch *w, const char *path);
/* watch_unmatched: path matches no feed: logged once while it stays. */
void watch_unmatched(struct watch *w, const char *path);
/* watch_ready: has the upload of dir/name ended, by the feed's arrival rule? */
int watch_ready(struct watch *w, const struct conf *c, const struct feed *f, const char *dir,
		const char *name, const struct stat *st, time_t now, int closed);
/* feed_serves: f reads partner's spool (its partners patterns). */
int feed_serves(const struct feed *f, const char *partner);

#endif
