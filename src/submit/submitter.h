/*
 * submitter - a parcel's batches to one Commerce target, prepared one ahead
 * in a second thread while the one before is in flight, each settled by
 * settle.c. Hooks let the daemon record every request before it goes and
 * its answer after (submit/state.h).
 */
#ifndef DG_SUBMITTER_H
#define DG_SUBMITTER_H

#include "submit/state.h"

/* submit_target: every batch of s->parcel to t. */
void submit_target(struct submit_state *s, const struct target *t);

#endif
