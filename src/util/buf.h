/*
 * buf - a growable byte buffer with a cap.
 *
 * A buf holds len bytes in data[], always followed by a NUL so that text can
 * be used as a C string. Growth beyond cap is refused: buf_add and friends
 * return -1 and leave the buffer as it was, so that untrusted input hits a
 * limit the caller reports ("field longer than N bytes"), never the OOM
 * killer. Allocation failure itself aborts (xalloc.h).
 *
 * Ownership: buf_init/BUF_INIT start empty, buf_release frees, buf_detach
 * hands data[] to the caller and leaves the buf empty.
 */
#ifndef DG_BUF_H
#define DG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap; /* most bytes data may hold, not counting the NUL */
};

#define BUF_NOCAP ((size_t)-1 / 2)
#define BUF_INIT(c) { NULL, 0, 0, (c) }

void buf_init(struct buf *b, size_t cap);
void buf_release(struct buf *b);
char *buf_detach(struct buf *b);
/* buf_reserve: make room for n more bytes; -1 if that would pass the cap. */
int buf_reserve(struct buf *b, size_t n);
int buf_add_slow(struct buf *b, const void *p, size_t n);

/* buf_add: append n bytes; the common case (room already there) inline. */
static inline int buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->alloc - b->len > n && b->len + n <= b->cap) {
		if (n)
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_add_slow(b, p, n);
}
int buf_addstr(struct buf *b, const char *s);

/* buf_addch: append one byte; inline when there is room. */
static inline int buf_addch(struct buf *b, char c)
{
	if (b->alloc - b->len > 1 && b->len < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_add_slow(b, &c, 1);
}
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* buf_truncate: keep the first len bytes (no-op when there are fewer); buf_reset: none. */
static inline void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

static inline void buf_reset(struct buf *b)
{
	buf_truncate(b, 0);
}
/* buf_cstr: the contents as a C string ("" for a buffer never grown). */
const char *buf_cstr(const struct buf *b);

#endif
