/*
 * decode - partner bytes in the declared encoding to UTF-8, in large blocks.
 *
 * Encodings: utf-8, windows-1252, iso-8859-1, iso-8859-15, utf-16 (with a
 * byte-order mark), utf-16le, utf-16be. Conversion is iconv(3): for the
 * single-byte encodings iconv is asked once, at start, what each of the 256
 * bytes becomes, and the table does the rest. UTF-8 is validated in place and
 * handed through without a copy when it is clean.
 * A UTF-8 byte-order mark is always accepted, and then the file is read as
 * UTF-8 whatever was declared.
 *
 * A byte that is not valid in the declared encoding never stops the stream:
 * it becomes U+FFFD in the output and an entry in the error queue with its
 * line (1-based, counted in the input) and byte offset within that line, so
 * that the row holding it can be rejected. More than DECODE_MAX_INVALID such
 * bytes in one file reject the file ("is the encoding right?"), which keeps
 * the queue bounded.
 */
#ifndef DG_DECODE_H
#define DG_DECODE_H

#include <stddef.h>

#include "util/buf.h"

#define DECODE_MAX_INVALID 1000

struct decode_error {
	unsigned long line;
	unsigned long byte;  /* 1-based offset in the line (in the file for utf-16) */
	unsigned char value; /* the first offending byte */
	int in_file;         /* byte counts from the start of the file, not the line */
};

struct decoder;

int decode_encoding_known(const char *name);
const char *decode_encoding_names(void);
/* decode_utf8_valid: is s[0..n) UTF-8 (no overlong forms, surrogates or > U+10FFFF)? */
int decode_utf8_valid(const char *s, size_t n);

struct decoder *decoder_new(const char *encoding);
void decoder_free(struct decoder *d);
/* decoder_encoding: what the input is read as (utf-8 after a UTF-8 BOM). */
const char *decoder_encoding(const struct decoder *d);
/*
 * decoder_run: convert len bytes (eof: no more will come). *out and *outlen are
 * valid until the next call. 0, or -1 with decoder_message() saying why the
 * file cannot be read (a missing or contradicting byte-order mark, too many
 * invalid bytes).
 */
int decoder_run(struct decoder *d, const char *in, size_t len, int eof, const char **out,
		size_t *outlen);
const char *decoder_message(const struct decoder *d);
/* The invalid bytes not yet taken, oldest first. */
const struct decode_error *decoder_errors(const struct decoder *d, size_t *n);
/* decoder_take: forget the first n errors. */
void decoder_take(struct decoder *d, size_t n);
/* decoder_line: lines started so far (1 + line feeds seen). */
unsigned long decoder_line(const struct decoder *d);

#endif
