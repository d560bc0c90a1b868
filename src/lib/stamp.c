#include "config.h"

#include <string.h>
#include <time.h>

#include "lib/stamp.h"

int stamp_from_name(const char *format, const char *name, time_t *t)
{
	for (const char *p = name; *p; p++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		if (strptime(p, format, &tm) != NULL) {
			time_t v = timegm(&tm);
			if (v == (time_t)-1)
				return -1;
			*t = v;
			return 0;
		}
	}
	return -1;
}

void stamp_text(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int stamp_of(enum stamp_kind kind, const char *format, const char *name, time_t mtime,
	     time_t now, time_t *t)
{
	*t = now;
	if (kind == STAMP_MTIME)
		*t = mtime;
	else if (kind == STAMP_NAME)
		return stamp_from_name(format, name, t) < 0 ? (*t = now, -1) : 0;
	return 0;
}
