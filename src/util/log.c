#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/logsys.h"

static enum log_level min_level = LOG_INFO;
static int log_fd = 2;
static int to_syslog;
static void (*interrupt)(void);
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
	min_level = level;
}

enum log_level log_get_level(void)
{
	return min_level;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

void log_set_syslog(int on, const char *ident)
{
	if (on && !to_syslog)
		logsys_open(ident);
	to_syslog = on;
}

void log_set_interrupt(void (*fn)(void))
{
	interrupt = fn;
}

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_begin(struct logline *l, enum log_level level, const char *event)
{
	char ts[32];
	struct timespec now;
	struct tm tm;

	l->on = level >= min_level;
	l->level = level;
	buf_init(&l->b, 64 * 1024);
	if (!l->on)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(&l->b, "ts=%s.%03ldZ level=%s event=%s", ts, now.tv_nsec / 1000000,
		   level_names[level], event);
}

static int needs_quotes(const char *v, size_t len)
{
	if (len == 0)
		return 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return 1;
	}
	return 0;
}

void log_kvn(struct logline *l, const char *key, const char *v, size_t len)
{
	if (!l->on)
		return;
	buf_printf(&l->b, " %s=", key);
	if (!needs_quotes(v, len)) {
		buf_add(&l->b, v, len);
		return;
	}
	buf_addch(&l->b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"' || c == '\\')
			buf_printf(&l->b, "\\%c", c);
		else if (c == '\n')
			buf_addstr(&l->b, "\\n");
		else if (c == '\r')
			buf_addstr(&l->b, "\\r");
		else if (c == '\t')
			buf_addstr(&l->b, "\\t");
		else if (c < ' ' || c == 0x7f)
			buf_printf(&l->b, "\\x%02x", c);
		else
			buf_addch(&l->b, (char)c);
	}
	buf_addch(&l->b, '"');
}

void log_kv(struct logline *l, const char *key, const char *value)
{
	if (value == NULL)
		value = "";
	log_kvn(l, key, value, strlen(value));
}

void log_kvf(struct logline *l, const char *key, const char *fmt, ...)
{
	struct buf v = BUF_INIT(16 * 1024);
	va_list ap;

	if (!l->on)
		return;
	va_start(ap, fmt);
	buf_vprintf(&v, fmt, ap);
	va_end(ap);
	log_kvn(l, key, buf_cstr(&v), v.len);
	buf_release(&v);
}

void log_end(struct logline *l)
{
	if (l->on && interrupt && !to_syslog)
		interrupt();
	if (l->on && to_syslog) {
		logsys_line((int)l->level, l->b.data, l->b.len);
	} else if (l->on) {
		const char *p;
		size_t left;

		buf_addch(&l->b, '\n');
		p = l->b.data;
		left = l->b.len;
		while (left > 0) {
			ssize_t n = write(log_fd, p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break; /* nowhere left to tell: drop the line */
			p += n;
			left -= (size_t)n;
		}
	}
	buf_release(&l->b);
}

void log_simple(enum log_level level, const char *event, const char *fmt, ...)
{
	struct logline l;
	struct buf v = BUF_INIT(16 * 1024);
	va_list ap;

	log_begin(&l, level, event);
	if (l.on) {
		va_start(ap, fmt);
		buf_vprintf(&v, fmt, ap);
		va_end(ap);
		log_kvn(&l, "msg", buf_cstr(&v), v.len);
	}
	log_end(&l);
	buf_release(&v);
}
