/*
 * submitter - a checked file's batches to Commerce (see submitter.c).
 */
#ifndef DG_SUBMITTER_H
#define DG_SUBMITTER_H

#include "commerce/answer.h"
#include "filecheck.h"
#include "util/keyset.h"

struct target;

struct submit_hooks {
	/* skip: 1 when this batch is already confirmed for this target (a resume) */
	int (*skip)(void *ctx, const struct target *t, unsigned seq);
	/* before_send: record the batch as in flight; -1 stops the sending */
	int (*before_send)(void *ctx, const struct target *t, unsigned seq);
	/* answered: what Commerce said, before the next batch goes */
	void (*answered)(void *ctx, const struct target *t, unsigned seq, const struct answer *a);
	/* stop: 1 when the sending must end now (the daemon is stopping) */
	int (*stop)(void *ctx);
	void *ctx;
};

struct submit_state {
	struct filecheck *fc;
	struct keyset rejected_lines; /* partner lines Commerce rejected, any target */
	unsigned long commerce_rejected;
	int status;      /* EXIT_COMMERCE when a target failed */
	int transient;   /* the failure was "unreachable": worth trying later */
	int stopped;     /* stop() ended the sending */
	const struct submit_hooks *hooks; /* NULL: none */
	int defer_telling; /* the daemon tells row answers from the ledger at the end */
};

/* submit_target: every batch of s->fc to t. */
void submit_target(struct submit_state *s, const struct target *t);

struct prepared;
/* tell_rows: Commerce's row answers for one batch, told as the partner's lines. */
void tell_batch_answer(struct submit_state *s, const struct target *t, unsigned seq,
		       const struct answer *a);

#endif
