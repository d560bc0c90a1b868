/*
 * alert - the `alert` program of [dropgate], run for an event an operator
 * must hear of: a late feed, its recovery, a failed file, a long deferral.
 * The facts go in the environment, never on a command line:
 *
 *   DROPGATE_EVENT    late | recovered | failed | deferred
 *   DROPGATE_PARTNER  DROPGATE_FEED  DROPGATE_FILE  DROPGATE_FILE_ID
 *   DROPGATE_SINCE    ISO 8601 UTC: late since, failed at, deferred since
 *   DROPGATE_MESSAGE  one line for a human
 *
 * The program runs in the background (its output goes to the daemon's
 * stderr); alert_reap collects its exit and logs a failure. Nothing here
 * waits for it.
 */
#ifndef DG_ALERT_H
#define DG_ALERT_H

#include <time.h>

struct alert_facts {
	const char *event, *partner, *feed, *file, *message;
	long long file_id; /* 0: none */
	time_t since;
};

/* alert_run: program with the facts; logged (event=alert). 0, or -1 when it could not start. */
int alert_run(const char *program, const struct alert_facts *f);
/* alert_reap: collect the programs that ended; log those that failed. */
void alert_reap(void);

#endif
