/*
 * operations - the ledger's record of each REST operation of an operation
 * feed (src/orders/): one row per file, target and operation number, written
 * before the operation goes (state `sent`, with what the order held then) and
 * after (`open` with the bulk's uuid, `done`, `refused` with Commerce's
 * message, `skipped` when it was found already in Commerce). Many rows are
 * written in one commit. An operation still `sent` after a restart has an
 * unknown fate: it is looked up on the order before anything goes again.
 */
#ifndef DG_OPERATIONS_H
#define DG_OPERATIONS_H

#include <stddef.h>

struct ledger;

struct ledger_op {
	unsigned no;	    /* the operation's number in the file, from 0 */
	char state[16];	    /* sent | open | done | refused | skipped */
	char uuid[64];	    /* the bulk it went in ("" synchronous, or not known) */
	unsigned bulk_op;   /* its place in that bulk */
	unsigned tries;	    /* times sent */
	const char *before; /* JSON: the order's quantities or status before it was sent */
	const char *result; /* Commerce's message or the created id */
};

/* ledger_ops_put: n rows in one commit (replacing rows of the same number). 0 or -1. */
int ledger_ops_put(struct ledger *l, long long id, const char *target, const struct ledger_op *v,
		   size_t n);
/* ledger_ops_load: every row of a file and target, to fn (its strings live for the call). */
int ledger_ops_load(struct ledger *l, long long id, const char *target,
		    void (*fn)(void *ctx, const struct ledger_op *op), void *ctx);
/* ledger_ops_count: a file's operations in one state (any target). */
long long ledger_ops_count(struct ledger *l, long long id, const char *state);

#endif
