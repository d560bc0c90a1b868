/*
 * state - what submitting a parcel shares between its parts: the submitter
 * (submitter.c), the settling of one batch (settle.c) and the telling of
 * Commerce's refusals on the partner's lines (tell.c). Types only.
 */
#ifndef DG_SUBMIT_STATE_H
#define DG_SUBMIT_STATE_H

#include "commerce/answer.h"
#include "parse/parcel.h"
#include "util/keyset.h"

struct target;

/*
 * Every request of a batch is numbered: sub 0 carries the whole batch, later
 * ones what is left after Commerce refused rows (see settle.h). rows says
 * which of the batch's rows a request carries, 1-based ranges ("1-40,42").
 */
struct submit_hooks {
	/* recorded: 1 with *a set when request (seq, sub) with these rows was answered
	   before a restart: the answer is used again, the request is not sent */
	int (*recorded)(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			const char *rows, struct answer *a);
	/* before_send: record the request as in flight; -1 stops the sending */
	int (*before_send)(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			   const char *rows);
	/* answered: what Commerce said, before the next request goes; settles is
	   "done" when this answer settles the batch (then settled is not called) */
	void (*answered)(void *ctx, const struct target *t, unsigned seq, unsigned sub,
			 const char *rows, const struct answer *a, const char *settles);
	/* settled: the batch is through, "done" or "refused" */
	void (*settled)(void *ctx, const struct target *t, unsigned seq, const char *state);
	/* stop: 1 when the sending must end now (the daemon is stopping) */
	int (*stop)(void *ctx);
	void *ctx;
};

struct submit_state {
	struct parcel *parcel;
	struct keyset rejected_lines; /* partner lines Commerce rejected, any target */
	unsigned long commerce_rejected;
	unsigned long local_rejected; /* rows the file's own checks rejected */
	int status;		      /* EXIT_COMMERCE when a target failed */
	int transient;		      /* the failure was "unreachable": worth trying later */
	int stopped;		      /* stop() ended the sending */
	int exceeded;		/* more rows rejected than the feed allows: nothing more is sent */
	unsigned long imported; /* rows the current target accepted */
	char why[512];		/* why the file waits, when not "unreachable" (orders/) */
	const struct submit_hooks *hooks; /* NULL: none */
};

/* One batch as read back from DIR, and its body for a request of all its rows. */
struct prepared {
	unsigned seq;
	struct buf csv;
	struct buf body;
	struct batch_origin *origin;
	size_t rows;
	int ok;
	struct buf err;
};

#endif
