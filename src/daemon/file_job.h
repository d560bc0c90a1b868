/*
 * file_job - a file in a worker's hand: what the steps of its life share
 * (daemon/job.c) with its end (outcome/finish.c). A plain struct.
 */
#ifndef DG_FILE_JOB_H
#define DG_FILE_JOB_H

#include "lib/conf.h"
#include "queue/ledger.h"

struct json_t;
struct sift;

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
	struct sift *sift;     /* a sequence's file: what goes to each target (sift/) */
};

#endif
