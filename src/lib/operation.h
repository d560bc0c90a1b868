/*
 * operation - the REST operations a feed can carry instead of an import
 * (`operation = ship | invoice | refund | comment | cancel | hold | unhold |
 * company`): for each, the columns its rows take, as an entity (entity.h),
 * so that the parse pipeline maps and checks them like an import's rows.
 * What each operation sends to Commerce is the orders module's (src/orders/).
 *
 * Adding an operation is adding a row to operation.c's table. Nothing here
 * does I/O; the checks follow entity.h's (0, or -1 with a message).
 */
#ifndef DG_OPERATION_H
#define DG_OPERATION_H

struct entity;

enum op_kind {
	OP_NONE = 0, /* an import feed */
	OP_SHIP,
	OP_INVOICE,
	OP_REFUND,
	OP_COMMENT,
	OP_CANCEL,
	OP_HOLD,
	OP_UNHOLD,
	OP_COMPANY,
};

struct operation {
	const char *name;
	enum op_kind kind;
	const struct entity *entity; /* the columns of its rows */
	const char *key;	     /* the column that groups rows into one request */
};

const struct operation *operation_find(const char *name);
const struct operation *operation_of(enum op_kind kind);
/* operation_names: "ship, invoice, ..." for messages. */
const char *operation_names(void);
/* operation_flag: a yes/no cell (yes, no, 1, 0, true, false): 1, 0, or -1 when neither. */
int operation_flag(const char *v);

#endif
