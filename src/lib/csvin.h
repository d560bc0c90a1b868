/*
 * csvin - UTF-8 text to rows, with libcsv, keeping the partner's line numbers.
 *
 * libcsv runs in strict mode (CSV_STRICT | CSV_STRICT_FINI), or without
 * CSV_STRICT for feeds with strict = no (bare quotes as in 3/4"); its own
 * trimming of unquoted fields is off, so values arrive exactly as written.
 * Text is fed to libcsv one physical line at a time, which is how each row
 * learns the line it starts on and the line it ends on, even when a quoted
 * field spans lines.
 *
 * Caps: a field longer than max_field bytes (libcsv's realloc hook refuses to
 * grow its buffer), a row longer than max_row bytes or with more than
 * max_fields fields. libcsv does not resynchronise after a syntax error, so a
 * syntax error or a field over the cap ends the file: csvin_feed returns -1
 * and csvin_error() names line and column. A row over its caps is handed to
 * the callback with too_long set, to be rejected alone.
 *
 * Most lines of a partner file hold no quote: such a line, when no row is
 * open at its start and it ends in LF or CR LF within the block, is split at
 * its delimiters here without libcsv (whose state machine copies every byte
 * and calls its space hook on each), and its fields are views into the
 * caller's text. The rows are the same either way: fuzz_csv compares the two
 * on every input.
 */
#ifndef DG_CSVIN_H
#define DG_CSVIN_H

#include <stddef.h>

#include "util/buf.h"
#include "util/strview.h"

struct csvin_row {
	const struct strview *fields;
	size_t n;
	unsigned long line;      /* where the row starts */
	unsigned long last_line; /* where it ends */
	int too_long;            /* over max_row or max_fields: fields are cut */
};

/* A row callback returns 0 to go on, non-zero to stop (csvin_feed then returns 1). */
typedef int (*csvin_row_fn)(void *ctx, const struct csvin_row *row);

struct csvin_opts {
	char delimiter;
	char quote;
	int strict;
	size_t max_field;
	size_t max_row;
	size_t max_fields;
	int no_fast_path; /* every line through libcsv (tests compare the two) */
};

enum csvin_errkind {
	CSVIN_OK,
	CSVIN_SYNTAX,     /* character where libcsv's strict mode refuses it */
	CSVIN_UNCLOSED,   /* end of file inside a quoted field */
	CSVIN_FIELD_CAP,  /* a field over max_field */
};

struct csvin_error {
	enum csvin_errkind kind;
	unsigned long line;
	unsigned long column; /* characters, 1-based; 0 when not known */
	size_t field;         /* 0-based field of the row */
	unsigned long row_line;
	char ch;              /* the offending character (CSVIN_SYNTAX) */
};

struct csvin;

struct csvin *csvin_new(const struct csvin_opts *opts, csvin_row_fn fn, void *ctx);
void csvin_free(struct csvin *c);
/* csvin_feed: 0 ok, 1 stopped by the callback, -1 error (csvin_error). */
int csvin_feed(struct csvin *c, const char *text, size_t len);
int csvin_finish(struct csvin *c);
const struct csvin_error *csvin_error(const struct csvin *c);
/* csvin_describe: the error as a sentence, without file and line. */
void csvin_describe(const struct csvin *c, struct buf *out);

#endif
