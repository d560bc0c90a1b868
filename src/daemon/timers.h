/*
 * timers - the main loop's deadlines, sorted: what is due runs, then waits
 * for its next period. Adding a daemon timer is adding a timers_add call in
 * daemon.c; nothing polls a clock field of its own. Single-threaded (the
 * main loop's); times are CLOCK_MONOTONIC milliseconds, so a wall-clock step
 * neither fires nor starves a timer.
 */
#ifndef DG_TIMERS_H
#define DG_TIMERS_H

#include <stddef.h>

#define TIMERS_MAX 8

struct timer {
	const char *name;
	long long due_ms;		   /* monotonic */
	long long (*period_ms)(void *ctx); /* asked again after each run (a reload may change it) */
	void (*fn)(void *ctx);
	void *ctx;
};

struct timers {
	struct timer v[TIMERS_MAX]; /* sorted by due_ms */
	size_t n;
};

/* timers_now_ms: the monotonic clock in milliseconds. */
long long timers_now_ms(void);
/* timers_add: fn first at first_ms (monotonic), then every period_ms(ctx). */
void timers_add(struct timers *t, const char *name, long long first_ms,
		long long (*period_ms)(void *ctx), void (*fn)(void *ctx), void *ctx);
/* timers_wait_ms: how long the loop may sleep at now_ms: until the first deadline, at most cap. */
int timers_wait_ms(const struct timers *t, long long now_ms, int cap);
/* timers_run: each timer due at now_ms runs once, in deadline order, and is put back. */
void timers_run(struct timers *t, long long now_ms);
/* timers_due_now: the named timer runs at the next timers_run (a rescan asked for, say). */
void timers_due_now(struct timers *t, const char *name, long long now_ms);

#endif
