#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/progress.h"
#include "util/log.h"
#include "util/xalloc.h"

#define LINE_BYTES 120

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void progress_bar(char *out, size_t size, double fraction, int width)
{
	int full;
	size_t k = 0;

	if (fraction < 0)
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	full = (int)(fraction * width + 0.5);
	if (size < (size_t)width + 3)
		width = (int)size - 3;
	out[k++] = '[';
	for (int i = 0; i < width; i++)
		out[k++] = i < full ? '#' : '.';
	out[k++] = ']';
	out[k] = '\0';
}

static void write_file(struct progress *p, long long now)
{
	char line[LINE_BYTES + 1];
	int n = snprintf(line, sizeof(line), "v1 %llu %llu %lu %lld %lld", p->done, p->total,
			 p->rows, p->started_ms, now);

	if (n < 0 || n >= LINE_BYTES)
		return;
	memset(line + n, ' ', (size_t)(LINE_BYTES - 1 - n)); /* one size: no stale tail */
	line[LINE_BYTES - 1] = '\n';
	if (pwrite(p->fd, line, LINE_BYTES, 0) < 0) {
		/* a progress line is a courtesy: the file goes on without it */
	}
}

/* clear_line: before a log line, the bar's line is emptied; the bar comes back at its next
   update (one bar at a time: check and submit draw one) */
static void clear_line(void)
{
	if (write(2, "\r\033[K", 4) < 0) {
		/* stderr is gone */
	}
}

static void draw_bar(struct progress *p, long long now, int last)
{
	char bar[64], line[256];
	double f = p->total ? (double)p->done / (double)p->total : 0;
	double secs = (double)(now - p->started_ms) / 1000.0;
	double rate = secs > 0 ? (double)p->rows / secs : 0;
	int n;

	progress_bar(bar, sizeof(bar), f, 30);
	n = snprintf(line, sizeof(line), "\r%s %s %3.0f%% %lu rows %.0f rows/s", p->label, bar,
		     (f > 1 ? 1 : f) * 100, p->rows, rate);
	if (!last && f > 0.01 && f < 1 && secs > 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " ETA %.0f s", secs / f - secs);
	n += snprintf(line + n, sizeof(line) - (size_t)n, last ? "\033[K\n" : "\033[K");
	if (write(2, line, (size_t)n) < 0) {
		/* stderr is gone: nothing to show it on */
	}
}

void progress_open(struct progress *p, const char *dir, int bar, const char *label,
		   unsigned long long total)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->bar = bar;
	p->label = label;
	p->total = total;
	p->started_ms = now_ms();
	if (bar)
		log_set_interrupt(clear_line);
	if (dir) {
		char *path = xasprintf("%s/%s", dir, PROGRESS_FILE);
		p->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
		free(path);
		if (p->fd >= 0)
			write_file(p, p->started_ms);
	}
}

static void tell(struct progress *p)
{
	long long now;

	if (p->fd < 0 && !p->bar)
		return;
	now = now_ms();
	if (now - p->shown_ms < PROGRESS_EVERY_MS)
		return;
	p->shown_ms = now;
	if (p->fd >= 0)
		write_file(p, now);
	if (p->bar)
		draw_bar(p, now, 0);
}

void progress_bytes(struct progress *p, size_t n)
{
	if (p == NULL)
		return;
	p->done += n;
	tell(p);
}

void progress_rows(struct progress *p, size_t n)
{
	if (p == NULL)
		return;
	p->rows += n;
	tell(p);
}

void progress_close(struct progress *p)
{
	if (p == NULL)
		return;
	if (p->fd >= 0) {
		write_file(p, now_ms());
		close(p->fd);
		p->fd = -1;
	}
	if (p->bar) {
		log_set_interrupt(NULL);
		draw_bar(p, now_ms(), 1); /* the last figures stay on their line */
	}
	p->bar = 0;
}

int progress_load(const char *dir, struct progress_read *r)
{
	char *path = xasprintf("%s/%s", dir, PROGRESS_FILE);
	char line[LINE_BYTES + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	ssize_t n = fd < 0 ? -1 : pread(fd, line, LINE_BYTES, 0);

	free(path);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	line[n] = '\0';
	memset(r, 0, sizeof(*r));
	return sscanf(line, "v1 %llu %llu %lu %lld %lld", &r->done, &r->total, &r->rows,
		      &r->started_ms, &r->updated_ms) == 5
		   ? 0
		   : -1;
}
