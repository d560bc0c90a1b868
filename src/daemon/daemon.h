/*
 * daemon - `dropgate run` (see daemon.c for how it is put together).
 */
#ifndef DG_DAEMON_H
#define DG_DAEMON_H

struct conf;
struct feed;

/* daemon_run: until SIGTERM or SIGINT; 0 on a clean stop. */
int daemon_run(const char *confpath);
/* reports_dir: where the partner's reports of feed f go (f NULL: outbound/reports). */
char *reports_dir(const struct conf *c, const struct feed *f, const char *partner);

#endif
