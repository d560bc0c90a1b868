/*
 * expect - late feeds and the files an operator must hear of.
 *
 * A feed with `expect = daily HH:MM` is late when no file of it (done or
 * partial) came from a partner in the day before the latest HH:MM (local
 * time): late since that HH:MM. With `expect = every DURATION`, when none
 * came for DURATION: late since the last one plus DURATION (the daemon's
 * start stands for a last file when there was none). The partners are
 * `expect.partners`, else the feed's `partners`, a pattern taking every
 * partner directory of the spool that matches.
 *
 * A late feed is noted in the ledger (notes.h note_late: `status` shows it,
 * a restart does not tell it twice) and told once to the `alert` program;
 * its recovery once more. With an alert program, files that failed since
 * the daemon started are told once each, and so are files deferred (or being
 * tried again after a deferral) at the moment they have waited
 * alert_deferred since they came (while the daemon runs).
 */
#ifndef DG_EXPECT_H
#define DG_EXPECT_H

#include <time.h>

struct conf;
struct feed;
struct ledger;

struct expect {
	time_t started;
	time_t failed_mark;	/* failed files finished from here on are told */
	long long *failed_told; /* ids told that finished at failed_mark (same second) */
	size_t nfailed_told;
	time_t deferred_mark; /* files that came up to here, minus alert_deferred, were looked at */
	unsigned long late;   /* feeds late at the last check (for STATUS= and metrics) */
};

void expect_init(struct expect *x, time_t now);
void expect_release(struct expect *x);
/* expect_check: look at every expected feed and at failed and deferred files now */
void expect_check(struct expect *x, const struct conf *c, struct ledger *l, time_t now);

/* expect_late: is feed f late at now when its last file finished at last (0: none; the
   daemon started at started)? 1 with *since, or 0. */
int expect_late(const struct feed *f, time_t last, time_t started, time_t now, time_t *since);

/* expect_each_pair: every (partner, feed) an expected feed watches, to fn */
void expect_each_pair(const struct conf *c,
		      void (*fn)(void *ctx, const char *partner, const struct feed *f), void *ctx);

#endif
