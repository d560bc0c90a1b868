#include "config.h"

#include <syslog.h>

#include "util/logsys.h"

void logsys_open(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void logsys_line(int level, const char *line, size_t len)
{
	static const int priority[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};

	if (len > 0 && line[len - 1] == '\n')
		len--;
	syslog(priority[level < 0 ? 0 : level > 3 ? 3 : level], "%.*s", (int)len, line);
}
