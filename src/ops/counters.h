/*
 * counters - what happens in this process and is nowhere in the ledger:
 * Commerce requests by target and outcome, their seconds (a histogram),
 * retries, export runs. Any thread may count; counters_render writes them in
 * the Prometheus text format (metrics.c puts them beside the ledger's
 * figures). A process that serves no metrics counts for nothing, cheaply.
 * Labels past COUNTERS_MAX series are counted under "other".
 */
#ifndef DG_COUNTERS_H
#define DG_COUNTERS_H

#include <time.h>

#include "util/buf.h"

/* counters_request: one HTTP exchange with target; outcome done, refused, transient,
   auth, rows or unnamed (answer.h's classes), seconds it took. */
void counters_request(const char *target, const char *outcome, double seconds);
/* counters_retry: a transient failure of target about to be tried again. */
void counters_retry(const char *target);
/* counters_export: an export run ended, ok or not, with rows written, at when. */
void counters_export(const char *name, int ok, unsigned long rows, time_t when);
/* counters_render: the families above, TYPE and HELP before their samples. */
void counters_render(struct buf *out);

#endif
