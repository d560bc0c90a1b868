/*
 * xalloc - allocation that does not return NULL.
 *
 * Every function here either succeeds or prints "out of memory" and aborts:
 * callers never check for NULL. Caps on untrusted input are enforced by the
 * callers (see buf.h), so reaching the abort means the machine is exhausted,
 * not that a partner sent a large file.
 */
#ifndef DG_XALLOC_H
#define DG_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* xreallocarray: realloc for nmemb * size, aborting on overflow. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf: formatted string in fresh memory, owned by the caller. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
