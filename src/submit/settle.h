/*
 * settle - one batch to one Commerce target, until every row is imported or
 * told as refused.
 *
 * Every request goes with validation-stop-on-errors, so Commerce imports a
 * request whole or not at all (under skip-errors it would drop bad rows in
 * silence). A refusal that names rows (current Commerce releases) has those
 * rows told on the partner's lines, and the batch goes again without them,
 * until it is accepted or empty. A refusal that names none (earlier
 * releases) has the refused part halved, the smaller half sent first; a half
 * whose sibling was accepted holds the bad row, so it is halved without being
 * sent; a refused part of one row is told "refused without saying why". That
 * is at most 2·k·log2(n) + 1 requests for k bad rows in n.
 *
 * The rows rejected in all (the file's own and Commerce's, every batch) are
 * held to the feed's allowance (none with stop-on-errors, else
 * allowed_errors): past it, nothing more is sent and the report says what
 * was imported before.
 *
 * Requests are numbered per batch (sub 0, 1, ...) and go through the hooks:
 * on a resume the answers recorded before the restart are used in place of
 * sending, so the same requests come out and only the one that was in flight
 * goes again.
 */
#ifndef DG_SETTLE_H
#define DG_SETTLE_H

#include "submit/state.h"

struct commerce_client;

enum settle_outcome {
	SETTLE_DONE, /* every row imported or told */
	SETTLE_NEXT, /* refused whole for what it holds (a 200 sentence): the next batch may go */
	SETTLE_STOP, /* nothing more to this target: stopped, unreachable, 4xx, too many rejected */
};

enum settle_outcome settle_batch(struct submit_state *s, const struct target *t,
				 struct commerce_client *client, const struct prepared *p);

#endif
