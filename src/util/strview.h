/*
 * strview - a borrowed run of bytes: what parsers hand to callbacks.
 * The bytes are not NUL-terminated and belong to whoever made the view.
 */
#ifndef DG_STRVIEW_H
#define DG_STRVIEW_H

#include <stddef.h>
#include <string.h>

struct strview {
	const char *p;
	size_t len;
};

static inline struct strview sv_from(const char *s)
{
	struct strview v = { s, strlen(s) };
	return v;
}

static inline int sv_eq(struct strview v, const char *s)
{
	return strlen(s) == v.len && memcmp(v.p, s, v.len) == 0;
}

#endif
