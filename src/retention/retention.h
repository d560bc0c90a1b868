/*
 * retention - pruning the archive, cleaning work/ at start (see retention.c).
 */
#ifndef DG_RETENTION_H
#define DG_RETENTION_H

#include "lib/conf.h"

struct ledger;

/* retention_prune: archived originals older than keep_days (since archived) go. */
void retention_prune(const struct conf *c);
/* retention_clean_work: work directories of files already ended go (at start only). */
void retention_clean_work(struct ledger *l, const struct conf *c);

#endif
