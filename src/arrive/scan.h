/*
 * scan - claiming what has arrived in the spool (see scan.c).
 */
#ifndef DG_SCAN_H
#define DG_SCAN_H

#include "arrive/watch.h"
#include "lib/conf.h"

struct ledger;

struct arrivals {
	struct watch w;
	struct ledger *ledger;
	char paused[512];  /* why claiming is paused, "" when it is not */
	int (*stop)(void); /* a stop was asked: claim nothing more */
};

/* scan_all: every partner's feed directories, each ready file claimed in order. */
void scan_all(struct arrivals *a, const struct conf *c);

#endif
