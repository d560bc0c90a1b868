/*
 * log - one line per event on stderr, as key=value pairs.
 *
 *   ts=2026-11-27T06:00:00.123Z level=warn event=row_rejected file=stock.csv line=3 ...
 *
 * A value with blanks, quotes, '=' or control characters is written in double
 * quotes with C-style escapes, so every line splits unambiguously. A line is
 * written with one write(2), so lines from several processes never interleave.
 * Secrets never reach this module: callers pass names, never token values.
 */
#ifndef DG_LOG_H
#define DG_LOG_H

#include "util/buf.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct logline {
	struct buf b;
	int on; /* 0 when the level is filtered out: the calls do nothing */
	enum log_level level;
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* log_set_fd: where lines go (default 2). */
void log_set_fd(int fd);
/* log_set_syslog: on, lines go to syslog(3) as ident (facility daemon), not to the fd;
   the same key=value text, its level as the priority. */
void log_set_syslog(int on, const char *ident);
/* log_set_interrupt: fn runs before each line is written (a progress bar on the same
   terminal clears its line); NULL: none. */
void log_set_interrupt(void (*fn)(void));
/* log_level_parse: "debug" ... "error" to a level; -1 for anything else. */
int log_level_parse(const char *s);

void log_begin(struct logline *l, enum log_level level, const char *event);
void log_kv(struct logline *l, const char *key, const char *value);
void log_kvn(struct logline *l, const char *key, const char *value, size_t len);
void log_kvf(struct logline *l, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_end(struct logline *l);

/* log_simple: an event with one "msg" value, for the common case. */
void log_simple(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
