/*
 * reports - where the partner's reports go (see reports.c).
 */
#ifndef DG_REPORTS_H
#define DG_REPORTS_H

#include "lib/conf.h"

/*
 * reports_dir: outbound/reports, or outbound/reports/<feed> when several of the
 * partner's feeds read f's directory (caller frees).
 */
char *reports_dir(const struct conf *c, const struct feed *f, const char *partner);
/* report_simple: F.result.json with one message, for a file no parser read. 0 or -1 (logged). */
int report_simple(const struct conf *c, const struct feed *f, long long id, const char *partner,
		  const char *name, const char *state, const char *message);

#endif
