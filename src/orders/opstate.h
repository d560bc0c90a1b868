/*
 * opstate - what the parts of the orders module share (rows.c, lookup.c,
 * plan.c, send.c, orders.c). Types and the functions between the parts.
 */
#ifndef DG_OPSTATE_H
#define DG_OPSTATE_H

#include <jansson.h>
#include <stddef.h>

#include "lib/batch.h"
#include "lib/operation.h"
#include "submit/state.h"
#include "util/buf.h"
#include "util/strlist.h"

struct ledger;
struct commerce_client;

/* the parcel's rows, every value a string, columns as the batches' header names them */
struct op_table {
	struct strlist cols;
	char **cells; /* rows * cols.n */
	struct batch_origin *origin;
	size_t rows;
};

enum op_fate {
	FATE_NEW,      /* not sent yet */
	FATE_UNKNOWN,  /* sent, what came of it not known: looked up before it goes again */
	FATE_OPEN,     /* accepted into a bulk, not yet run */
	FATE_RETRY,    /* the bulk's consumer failed it, retriably: send again */
	FATE_DONE,     /* Commerce did it */
	FATE_SKIPPED,  /* found already in Commerce */
	FATE_REFUSED,  /* Commerce refused it */
	FATE_REJECTED, /* every row rejected before sending: nothing to send */
};

struct op {
	unsigned no;
	const char *key; /* increment_id or company_email (a cell of the table) */
	size_t *rows;	 /* its rows in the table, in file order */
	size_t nrows;
	unsigned char *bad; /* per row: rejected before sending */
	enum op_fate fate;
	char uuid[64];
	unsigned bulk_op;
	unsigned tries;
	json_t *before;	  /* what the order must show once this is done (plan.c) ... */
	char *expect;	  /* ... kept as text */
	json_t *rejected; /* its rows rejected before sending: [[k, column, message], ...] */
	char *result;
	json_t *found; /* the order (or company) as looked up; NULL: none */
	json_t *body;  /* the request being built (plan.c) ... */
	char *text;    /* ... then as sent: the synchronous body (compact JSON) */
	long long id;  /* the order's entity_id, the company's id (0: create) */
	int recorded;  /* the ledger holds a row for it */
	int recheck;   /* to be looked up again (ops_lookup_marked) */
};

struct opctx {
	struct submit_state *s;
	const struct target *t;
	const struct feed *f;
	const struct operation *op;
	struct commerce_client *client;
	struct ledger *ledger; /* NULL: nothing recorded */
	long long file_id;
	struct op_table tab;
	struct op *ops;
	size_t nops;
	json_t *customers; /* company: super_user_email -> customer id */
	unsigned long searches, posts, polls;
	int failed;	/* Commerce refused a request as a whole, or is unreachable */
	struct buf why; /* that failure, or why the file waits */
};

/* rows.c */
int op_table_read(struct op_table *tab, struct parcel *pc, struct buf *err);
void op_table_release(struct op_table *tab);
/* op_cell: row r's value of column name ("" when the column is not mapped). */
const char *op_cell(const struct op_table *tab, size_t r, const char *name);
size_t op_column(const struct op_table *tab, const char *name); /* (size_t)-1: none */
void ops_group(struct opctx *x);
void ops_release(struct opctx *x);

/* lookup.c: each op still to decide gets found (or NULL); -1 when Commerce failed */
int ops_lookup(struct opctx *x, int only_unknown);
/* ops_wanted: o is one ops_lookup(x, only_unknown) looks up */
int ops_wanted(const struct op *o, int only_unknown);
/* ops_lookup_marked: the same for the operations marked recheck */
int ops_lookup_marked(struct opctx *x);
/* lookup_orders: JSON GET of a route, counted; NULL with x->why set */
json_t *ops_get(struct opctx *x, const char *route);
void query_escape(struct buf *out, const char *v);

/* documents.c: the shipments, invoices or credit memos of the orders with an operation
   of unknown fate, into each one's found["_documents"]; -1 when Commerce failed */
int ops_documents(struct opctx *x, int only_unknown);
/* op_documents_say: 1 the operation's own document is there, 0 not there (it may go again),
   -1 the order shows it done by no document of its own (someone else's: never resent) */
int op_documents_say(const json_t *expect, const json_t *docs, int quantities_there);

/* plan.c */
void op_check(struct opctx *x, struct op *o);		   /* rows against the order, body built */
/* op_present: already in Commerce? 1 yes, 0 no, -1 the order shows it done by another's
   document (documents.c) */
int op_present(const struct opctx *x, const struct op *o);
/* op_not_ours: o (op_present -1) rejected on its lines, never sent again */
void op_not_ours(struct opctx *x, struct op *o);
void op_reject_row(struct opctx *x, struct op *o, size_t k, const char *column,
		   const char *message);
/* op_retell: the rows recorded as rejected before sending, told again */
void op_retell(struct opctx *x, struct op *o);
void op_tell_refusal(struct opctx *x, struct op *o, const char *message);
/* op_route: the request's route (fresh memory) and method */
char *op_route(const struct opctx *x, const struct op *o, int bulk, const char **method);
const char *op_path_param(const struct opctx *x);

/* send.c */
void ops_send_bulk(struct opctx *x);
/* ops_poll: the open bulks polled until none is open or bulk_wait has passed */
void ops_poll(struct opctx *x);
void ops_send_direct(struct opctx *x);
int orders_stopping(const struct opctx *x);
void ops_record(struct opctx *x, struct op **v, size_t n); /* the ledger rows of v */

#endif
