/*
 * tell - Commerce's refusals told on the partner's lines (see tell.c).
 */
#ifndef DG_TELL_H
#define DG_TELL_H

#include "submit/state.h"

/*
 * submit_tell_rows: Commerce's "Row N" answers told as the partner's lines;
 * map[N - 1] is the batch row (0-based) that request row N carried.
 */
void submit_tell_rows(struct submit_state *s, const struct target *t, const struct prepared *p,
		      const struct answer *a, const unsigned *map, size_t nmap);
/* submit_tell_unnamed: a batch row (0-based) Commerce refused without naming it. */
void submit_tell_unnamed(struct submit_state *s, const struct target *t, const struct prepared *p,
			 unsigned row);
/* submit_allowed: how many rejected rows the feed allows in all (0 with stop-on-errors). */
unsigned long submit_allowed(const struct submit_state *s);

#endif
