/*
 * logsys - log lines to syslog(3), apart from log.c because <syslog.h> names
 * its priorities LOG_INFO ... as log.h does. Only log.c calls it.
 */
#ifndef DG_LOGSYS_H
#define DG_LOGSYS_H

#include <stddef.h>

/* logsys_open: openlog(ident, LOG_PID, LOG_DAEMON); ident is kept, not copied. */
void logsys_open(const char *ident);
/* logsys_line: one line (len bytes, no newline needed) at log.h's level (0 debug .. 3 error). */
void logsys_line(int level, const char *line, size_t len);

#endif
