/*
 * conf - the dropgate configuration: one INI file, parsed with inih.
 *
 * Sections: [dropgate], [commerce] (the target "default") and [commerce NAME],
 * [feed NAME], [export NAME]. Every key is a row of a table in conf_keys.c
 * with its parser and its default; an unknown key, a bad value, a key given
 * twice or a missing required key is an error naming the file, line and key
 * ("dropgate.conf:12: [feed stock] encoding: unknown encoding 'latin9'").
 * conf_read reports every error it finds, not only the first, and returns
 * NULL when there was one. It knows no input format beyond the names of its
 * keys: what only a parser can check arrives as a conf_feed_check_fn.
 *
 * Debian's inih cuts lines at 200 bytes and joins indented lines to the
 * previous value; conf.c reads lines itself, refuses longer ones with an error
 * instead of cutting them, and drops leading blanks so that an indented key is
 * a key.
 */
#ifndef DG_CONF_H
#define DG_CONF_H

#include <stddef.h>

#include "lib/conf_value.h"
#include "lib/export_conf.h"
#include "lib/feed.h"
#include "lib/target.h"
#include "util/buf.h"
#include "util/filesnap.h"

struct conf {
	char *path;
	char *text; /* the bytes parsed, NUL-terminated: what the parser child is handed */
	size_t textlen;
	struct filesnap files; /* the lookup tables' bytes, as they were read */
	char *spool;
	char *state;
	char *ledger; /* NULL: <state>/ledger.db; else a file or a PostgreSQL location */
	char *node;   /* this appliance's name among the nodes sharing a ledger (host name) */
	unsigned long lease; /* seconds a node's claims live without a renewal (nodes.h) */
	unsigned long workers;
	int log_level;
	unsigned long keep_days;
	unsigned long rescan;		  /* seconds between full scans of the spool */
	unsigned long settle;		  /* seconds a file found by a scan must be quiet */
	unsigned long retry_deferred;	  /* first wait for a deferred file, doubling ... */
	unsigned long retry_deferred_max; /* ... up to this */
	unsigned long long min_free;	  /* claim nothing while the state disk has less */
	unsigned long long worker_memory; /* rlimits of the parsing process */
	unsigned long worker_cpu;
	unsigned long long max_file_size;
	/* operating it (src/ops/): log = ... syslog, metrics = ADDR:PORT, alert = PROGRAM */
	int log_syslog;			 /* lines go to syslog(3), not stderr */
	char *metrics;			 /* NULL: no metrics endpoint */
	char *alert;			 /* NULL: no alert program */
	unsigned long alert_deferred;	 /* a file deferred this long since it came is told */
	struct target *targets;
	size_t ntargets;
	struct feed *feeds;
	size_t nfeeds;
	struct export *exports;
	size_t nexports;
};

/* conf_retry_wait: seconds before try attempts + 1 of a deferred file or a claim:
   retry_deferred, doubling with each attempt, at most retry_deferred_max. */
static inline unsigned long conf_retry_wait(const struct conf *c, int attempts)
{
	unsigned long wait = c->retry_deferred;

	for (int k = 0; k < attempts && wait < c->retry_deferred_max; k++)
		wait *= 2;
	return wait > c->retry_deferred_max ? c->retry_deferred_max : wait;
}

#define CONF_MAX_TEXT (1024 * 1024)	    /* a longer configuration file is refused */
#define CONF_MAX_SNAPSHOT ((size_t)1 << 30) /* the configuration and its lookup tables */

/*
 * conf_feed_check_fn: what the loader cannot tell about a feed by itself (an
 * XML feed's record path and XPaths: loadconf.h), asked at the end of each
 * [feed] section whose map.* keys all compiled. 0, or -1 with the reason in
 * err, which becomes that section's error "[feed NAME] reason".
 */
typedef int (*conf_feed_check_fn)(const struct feed *f, struct buf *err);

/*
 * conf_read: parse path; NULL with every error (one per line) in err. check
 * (NULL: none) is asked about each feed, its complaints reported in place.
 * Whoever runs feeds loads through loadconf.h's conf_load, which passes the
 * parsers' checks.
 */
struct conf *conf_read(const char *path, conf_feed_check_fn check, struct buf *err);
/*
 * conf_read_text: parse text as if it were read from path (path names it in
 * errors, and relative paths in it are taken from path's directory). Only the
 * files it names (lookup tables) are read; path itself is not opened.
 */
struct conf *conf_read_text(const char *path, const char *text, size_t len,
			    conf_feed_check_fn check, struct buf *err);
/*
 * conf_snapshot_write: c as it runs, onto fd: its path and text, and the bytes
 * of every lookup table it read. conf_read_snapshot builds the same
 * configuration from what fd holds (read to its end) without opening a file:
 * what the daemon hands its parser child. 0 or -1 (errno); NULL with err set.
 */
int conf_snapshot_write(const struct conf *c, int fd);
struct conf *conf_read_snapshot(int fd, conf_feed_check_fn check, struct buf *err);
void conf_free(struct conf *c);
const struct feed *conf_feed(const struct conf *c, const char *name);
const struct target *conf_target(const struct conf *c, const char *name);
const struct export *conf_export(const struct conf *c, const char *name);

#endif
