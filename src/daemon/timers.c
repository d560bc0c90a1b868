#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/timers.h"

long long timers_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* settle: t->v[i] moved to its place in deadline order (the others are sorted) */
static void settle(struct timers *t, size_t i)
{
	struct timer x = t->v[i];

	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(x));
	for (i = 0; i + 1 < t->n && t->v[i].due_ms <= x.due_ms; i++)
		;
	memmove(&t->v[i + 1], &t->v[i], (t->n - 1 - i) * sizeof(x));
	t->v[i] = x;
}

void timers_add(struct timers *t, const char *name, long long first_ms,
		long long (*period_ms)(void *ctx), void (*fn)(void *ctx), void *ctx)
{
	if (t->n == TIMERS_MAX)
		abort(); /* a programmer's error: TIMERS_MAX is the daemon's own count */
	t->v[t->n] = (struct timer){name, first_ms, period_ms, fn, ctx};
	t->n++;
	settle(t, t->n - 1);
}

int timers_wait_ms(const struct timers *t, long long now_ms, int cap)
{
	long long wait;

	if (t->n == 0)
		return cap;
	wait = t->v[0].due_ms - now_ms;
	if (wait < 0)
		return 0;
	return wait < cap ? (int)wait : cap;
}

void timers_run(struct timers *t, long long now_ms)
{
	/* at most one run each: a timer whose period is 0 does not spin */
	for (size_t runs = 0; runs < t->n && t->v[0].due_ms <= now_ms; runs++) {
		struct timer *x = &t->v[0];
		long long period;

		x->fn(x->ctx);
		period = x->period_ms(x->ctx);
		x->due_ms = now_ms + (period > 0 ? period : 1);
		settle(t, 0);
	}
}

void timers_due_now(struct timers *t, const char *name, long long now_ms)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0) {
			t->v[i].due_ms = now_ms;
			settle(t, i);
			return;
		}
}
