/*
 * filesnap - the bytes of named files, taken once and carried elsewhere.
 *
 * A configuration is built from files (itself, its lookup tables); the daemon
 * hands the parser child the bytes it runs with, so that what is on disk now
 * (an edit not yet reloaded, a table half rewritten) never changes a parse.
 * filesnap_write puts a snapshot on an fd, filesnap_read takes it back; a
 * stream that is cut, malformed or over its cap is refused with a message,
 * never half-read.
 */
#ifndef DG_FILESNAP_H
#define DG_FILESNAP_H

#include <stddef.h>

#include "util/buf.h"

struct filesnap_file {
	char *name;
	char *data; /* NUL-terminated, len bytes before the NUL */
	size_t len;
};

struct filesnap {
	struct filesnap_file *v;
	size_t n;
};

#define FILESNAP_INIT { NULL, 0 }

/* filesnap_add: a copy of data under name (an earlier file of that name is replaced). */
void filesnap_add(struct filesnap *s, const char *name, const char *data, size_t len);
const struct filesnap_file *filesnap_find(const struct filesnap *s, const char *name);
void filesnap_clear(struct filesnap *s);
/* filesnap_write: 0, or -1 with errno set. */
int filesnap_write(const struct filesnap *s, int fd);
/* filesnap_read: the whole of fd, at most cap bytes; 0, or -1 with err set (s left empty). */
int filesnap_read(struct filesnap *s, int fd, size_t cap, struct buf *err);

#endif
