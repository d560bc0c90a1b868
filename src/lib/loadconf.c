#include "config.h"

#include <stddef.h>

#include "lib/loadconf.h"
#include "lib/xmlin.h"

/* the formats whose parser checks a feed at load; a format without a row has no check */
static const struct {
	enum feed_format format;
	conf_feed_check_fn check;
} format_checks[] = {
    {FORMAT_XML, xmlin_check_feed},
};

int feed_check(const struct feed *f, struct buf *err)
{
	for (size_t i = 0; i < sizeof(format_checks) / sizeof(format_checks[0]); i++)
		if (format_checks[i].format == f->format)
			return format_checks[i].check(f, err);
	return 0;
}

struct conf *conf_load(const char *path, struct buf *err)
{
	return conf_read(path, feed_check, err);
}

struct conf *conf_load_text(const char *path, const char *text, size_t len, struct buf *err)
{
	return conf_read_text(path, text, len, feed_check, err);
}

struct conf *conf_load_snapshot(int fd, struct buf *err)
{
	return conf_read_snapshot(fd, feed_check, err);
}
