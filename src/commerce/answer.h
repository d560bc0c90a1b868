/*
 * answer - what Commerce said to one import request, classified.
 *
 * Commerce answers a bulk import with HTTP 200 and a JSON array of strings
 * ("Entities Processed: 2", "Row 3: ..." and a few fixed sentences), or with
 * an error status and a body {"message": "... %name ...", "parameters": ...}.
 * answer_parse turns that into one class and the row problems, with row
 * numbers as Commerce counts them (1-based data rows of that request's CSV).
 * A 200 refusal is ANSWER_ROWS when it names rows (current Commerce releases:
 * StartImport::validate), ANSWER_UNNAMED when it says some row is bad without
 * naming one (earlier releases: "Data validation failed. ..."; the first
 * module releases: "Maximum error count has been reached ..."), and
 * ANSWER_REFUSED for anything else (an empty file, "Entity is unknown", a
 * 4xx) -- a header problem too, which Commerce names as "Row 1: ..." though it
 * is no row's (the message then leaves "Row 1: " out).
 * Nothing here does I/O; the client and the tests feed it.
 */
#ifndef DG_ANSWER_H
#define DG_ANSWER_H

#include <stddef.h>

#include "util/buf.h"

enum answer_class {
	ANSWER_DONE,      /* applied; some rows may have been rejected */
	ANSWER_REFUSED,   /* the batch was refused as a whole (4xx, a non-row answer) */
	ANSWER_TRANSIENT, /* try again: 429, 5xx, timeouts, refused or reset connections */
	ANSWER_AUTH,      /* 401: the token is not (or no longer) accepted */
	ANSWER_ROWS,      /* refused whole for the rows it names ("Row 3: ...") */
	ANSWER_UNNAMED,   /* refused whole for bad rows it does not name ("Data validation failed") */
};

struct row_answer {
	unsigned long row; /* 1-based data row of the batch */
	char *message;
};

struct answer {
	enum answer_class cls;
	long http_status;        /* 0: no HTTP answer */
	unsigned long processed; /* "Entities Processed: N" */
	int has_processed;
	struct row_answer *rows;
	size_t nrows;
	struct buf message;      /* the whole-batch message, placeholders filled */
	unsigned long retry_after; /* seconds, 0 when not given */
};

void answer_init(struct answer *a);
void answer_release(struct answer *a);
void answer_reset(struct answer *a);
/* answer_parse: classify an HTTP answer (status and body). */
void answer_parse(struct answer *a, long status, const char *body, size_t len);
/* answer_to_json / answer_from_json: an answer kept in the ledger. */
char *answer_to_json(const struct answer *a);
int answer_from_json(struct answer *a, const char *json);
/* fill_placeholders: "%name" and "%1" in tmpl from parameters (an object or array). */
void fill_placeholders(const char *tmpl, const void *json_parameters, struct buf *out);

#endif
