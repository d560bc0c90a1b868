/* load: a configuration from INI text, as run loads one (lib/loadconf.h), for the unit tests. */
#ifndef DG_TESTCONF_H
#define DG_TESTCONF_H

#include "lib/conf.h"
#include "lib/loadconf.h"
#include "testutil.h"

/* load: parse ini text; the conf, or NULL with the errors in err. */
static inline struct conf *load(const char *ini, struct buf *err)
{
	char *path = TMPFILE(ini);
	struct conf *c;

	buf_reset(err);
	c = conf_load(path, err);
	unlink(path);
	free(path);
	return c;
}

#endif
