#include "config.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "ops/notify.h"

void notify_init(struct notify *n)
{
	uint64_t usec = 0;

	memset(n, 0, sizeof(*n));
	if (sd_watchdog_enabled(0, &usec) > 0)
		n->watchdog_usec = usec;
}

void notify_ready(struct notify *n, const char *status)
{
	snprintf(n->status, sizeof(n->status), "%s", status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	n->ready = 1;
}

void notify_status(struct notify *n, const char *status)
{
	if (!n->ready || strcmp(n->status, status) == 0)
		return;
	snprintf(n->status, sizeof(n->status), "%s", status);
	sd_notifyf(0, "STATUS=%s", status);
}

void notify_tick(struct notify *n, long long now_ms)
{
	if (n->watchdog_usec == 0 ||
	    now_ms - n->last_ping_ms < (long long)(n->watchdog_usec / 2000))
		return;
	sd_notify(0, "WATCHDOG=1");
	n->last_ping_ms = now_ms;
}

void notify_reloading(struct notify *n)
{
	struct timespec now;

	(void)n;
	clock_gettime(CLOCK_MONOTONIC, &now);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
		   (unsigned long long)now.tv_sec * 1000000ULL +
		       (unsigned long long)now.tv_nsec / 1000);
}

void notify_reloaded(struct notify *n)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", n->status);
}

void notify_stopping(struct notify *n)
{
	(void)n;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: finishing or parking the files in hand");
}
