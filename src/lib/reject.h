/*
 * reject - what rejects a row or the file, and what a file comes to.
 *
 * The pipeline tells every row problem and every file-level message here;
 * they go on to the caller's sink, problems carrying the archive member they
 * were found in and messages naming it. A row with a problem is rejected
 * (reject_row); the rejected rows reject the file when the feed's validation
 * says so: the first one with validation = stop-on-errors, else the one past
 * allowed_errors. reject_outcome is the one place where a file's counts
 * become valid, partial, rejected or failed.
 *
 * Bad input is what this module prices; it has no failure of its own. After
 * REJECT_MAX_PROBLEMS problems the rest are counted but not told (one message
 * says so), so a file of bad rows cannot flood the report. Nothing here reads
 * or writes a file, stops the reading (the pipeline asks r->file_rejected),
 * or allocates per row: messages are made in one buffer, grown once.
 */
#ifndef DG_REJECT_H
#define DG_REJECT_H

#include <stdarg.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/strview.h"

#define REJECT_MAX_PROBLEMS 10000

/* A row problem, as the caller's sink gets it. */
struct problem {
	unsigned long line;
	uint32_t member;
	const char *column; /* the partner's column name, else the Commerce one; may be "" */
	struct strview value;
	const char *message;
};

enum pipeline_state { PIPE_VALID, PIPE_PARTIAL, PIPE_REJECTED, PIPE_FAILED };

struct reject {
	void (*problem)(void *ctx, const struct problem *p);
	void (*message)(void *ctx, const char *msg);
	void *ctx;
	int stop_on_errors;	      /* validation = stop-on-errors */
	unsigned long allowed_errors; /* otherwise: rejected rows the file may have */
	uint32_t member;	      /* archive member being read, 0 outside archives */
	char *member_name;	      /* its name, for messages; NULL outside archives */
	unsigned long problems;	      /* told or not */
	unsigned long rows_rejected;
	int row_problems;  /* problems of the row in hand */
	int file_rejected; /* the file is rejected: no more batches */
	struct buf text;   /* the message being made */
};

void reject_init(struct reject *r, void (*problem)(void *ctx, const struct problem *p),
		 void (*message)(void *ctx, const char *msg), void *ctx, int stop_on_errors,
		 unsigned long allowed_errors);
void reject_release(struct reject *r);
/* reject_member: problems and messages from now on are member's, called name. */
void reject_member(struct reject *r, uint32_t member, const char *name);

/* reject_message: a file-level message ("member 'x': " first in an archive). */
void reject_message(struct reject *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reject_vmessage(struct reject *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* reject_problem: a problem of the row in hand (column NULL: none). */
void reject_problem(struct reject *r, unsigned long line, const char *column, struct strview value,
		    const char *message);
/* reject_row: the row in hand is rejected; the file too when validation says so. */
void reject_row(struct reject *r);
/* reject_file: the file is rejected whole (its reason told as a message). */
void reject_file(struct reject *r);

/*
 * reject_outcome: failed (a batch could not be written) over rejected (the
 * file) over partial (some rows rejected) over valid.
 */
enum pipeline_state reject_outcome(int failed, int file_rejected, unsigned long rows_rejected);

#endif
