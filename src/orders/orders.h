/*
 * orders - an operation feed's rows (lib/operation.h) to Commerce: shipments,
 * invoices, credit memos, comments, cancel/hold/unhold, and B2B companies.
 *
 * The rows come from the parse like an import's (a parcel's batches, each row
 * with the partner's line). They are grouped into one request per order (per
 * company), the orders looked up by increment_id a page at a time, every row
 * checked against its order before anything is sent (unknown order, a SKU
 * not in it, a quantity above what is left: rejected on the partner's line),
 * then sent through the asynchronous bulk API (`bulk = yes`: batch_rows
 * operations a request, then the bulk's status polled until none is open) or
 * the synchronous endpoints (`concurrency` at a time).
 *
 * Never twice: with a ledger, each operation is recorded before it goes and
 * after (queue/operations.h); one whose fate is unknown (a kill, a lost
 * answer) is looked up on its order before it could go again, and counts as
 * done when the order shows it. Outcomes go to the parcel's report and the
 * submit_state's counts, as an import's do.
 */
#ifndef DG_ORDERS_H
#define DG_ORDERS_H

#include "submit/state.h"

struct ledger;

/* orders_submit: s->parcel's operations to t; l NULL: nothing recorded (dropgate submit). */
void orders_submit(struct submit_state *s, const struct target *t, struct ledger *l,
		   long long file_id);

#endif
