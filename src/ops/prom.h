/*
 * prom - the Prometheus text exposition format (version 0.0.4): a family's
 * HELP and TYPE lines, then its samples with escaped label values.
 */
#ifndef DG_PROM_H
#define DG_PROM_H

#include "util/buf.h"

void prom_family(struct buf *out, const char *name, const char *type, const char *help);
/* prom_sample: name{k1="v1",...} value; nlabels pairs of (key, value) follow. */
void prom_sample(struct buf *out, const char *name, double value, int nlabels, ...);

#endif
