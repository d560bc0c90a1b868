/*
 * reports - where a partner's reports go, and the one-message reports of
 * files that never reach the parser (refused, duplicate, stale).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "arrive/watch.h"
#include "lib/report.h"
#include "outcome/reports.h"
#include "queue/spool.h"
#include "util/log.h"
#include "util/xalloc.h"

/* feeds_sharing_dir: how many of the partner's feeds read f's directory. */
static int feeds_sharing_dir(const struct conf *c, const struct feed *f, const char *partner)
{
	int n = 0;

	for (size_t i = 0; i < c->nfeeds; i++)
		n += strcmp(c->feeds[i].dir, f->dir) == 0 && feed_serves(&c->feeds[i], partner);
	return n;
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

int report_simple(const struct conf *c, const struct feed *f, long long id, const char *partner,
		  const char *name, const char *state, const char *message)
{
	int rc = -1;

	struct report r;
	struct report_summary sum = {id, f->name, state, 0, 0, 0, 0, NULL};
	struct buf err = BUF_INIT(4096);
	char *dir = reports_dir(c, f, partner);

	if (mkdirs(dir, 0755, &err) == 0 && report_open(&r, dir, name, &err) == 0) {
		report_message(&r, message);
		if (report_finish(&r, &sum, &err) < 0)
			log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
		else
			rc = 0;
		report_release(&r);
	} else {
		log_simple(LOG_ERROR, "report_failed", "%s", buf_cstr(&err));
	}
	free(dir);
	buf_release(&err);
	return rc;
}

/* unpack_like: a name that says the bytes are compressed already. */
