/*
 * job - one file taken to its end (see job.c).
 */
#ifndef DG_JOB_H
#define DG_JOB_H

#include "lib/conf.h"
#include "daemon/file_job.h"

/*
 * job_run: file id from the state the ledger holds to its end state, or
 * parked (a stop, a ledger or disk that failed) or deferred (Commerce
 * unreachable, a disk fault in the parser) to be resumed later. self: this
 * program, run as the parser child.
 */
void job_run(struct ledger *l, const char *self, const struct conf *c, int (*stop)(void),
	     long long id);

#endif
