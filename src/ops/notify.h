/*
 * notify - the daemon's word to systemd (sd_notify, Type=notify): READY=1
 * once recovery and the first scan are done, STATUS= lines, WATCHDOG=1 from
 * the main loop at half WatchdogSec=, RELOADING=1 around a reload,
 * STOPPING=1. Without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef DG_NOTIFY_H
#define DG_NOTIFY_H

struct notify {
	int ready;
	unsigned long long watchdog_usec; /* 0: no watchdog asked for */
	long long last_ping_ms;
	char status[256]; /* the last STATUS= sent */
};

void notify_init(struct notify *n);
void notify_ready(struct notify *n, const char *status);
/* notify_status: STATUS=text, when it changed */
void notify_status(struct notify *n, const char *status);
/* notify_tick: WATCHDOG=1 when half the watchdog interval has passed since the last */
void notify_tick(struct notify *n, long long now_ms);
void notify_reloading(struct notify *n);
void notify_reloaded(struct notify *n);
void notify_stopping(struct notify *n);

#endif
