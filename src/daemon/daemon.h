/*
 * daemon - `dropgate run` (see daemon.c for how it is put together).
 */
#ifndef DG_DAEMON_H
#define DG_DAEMON_H

/* daemon_run: until SIGTERM or SIGINT; 0 on a clean stop. */
int daemon_run(const char *confpath);

#endif
