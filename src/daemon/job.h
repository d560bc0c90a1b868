/*
 * job - one file taken to its end (see job.c).
 */
#ifndef DG_JOB_H
#define DG_JOB_H

#include "lib/conf.h"
#include "queue/ledger.h"

struct json_t;

struct file_job {
	struct ledger *ledger;
	const char *self;  /* this program, run as the parser child */
	int (*stop)(void); /* a stop was asked: park the file where it is */
	const struct conf *c;
	const struct feed *f; /* NULL: the file's feed is no longer configured */
	struct ledger_file lf;
	char *wd;	       /* work/<id> */
	char *outdir;	       /* work/<id>/.out: the parser's batches and report */
	char *file;	       /* work/<id>/<name> */
	struct json_t *worker; /* the parser's result (F.result.json), once read */
};

/*
 * job_run: file id from the state the ledger holds to its end state, or
 * parked (a stop, a ledger or disk that failed) or deferred (Commerce
 * unreachable, a disk fault in the parser) to be resumed later. self: this
 * program, run as the parser child.
 */
void job_run(struct ledger *l, const char *self, const struct conf *c, int (*stop)(void),
	     long long id);

#endif
