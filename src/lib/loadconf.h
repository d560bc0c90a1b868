/*
 * loadconf - the configuration as dropgate runs it: conf's reader, with the
 * checks only a feed's own parser can make put to each feed while the file is
 * read. For format = xml: the record path is a path of element names, its
 * prefixes are bound by namespace.* keys, and each map.* source compiles as
 * an XPath (xmlin_check_feed). A CSV feed has nothing beyond conf's checks.
 *
 * Their complaints are errors of the feed's section like any other, in the
 * same place of err, and fail the load the same way. This sits above conf so
 * that conf includes no parser: conf is below the pipeline, the parsers use
 * its feed struct, and here the two meet.
 */
#ifndef DG_LOADCONF_H
#define DG_LOADCONF_H

#include <stddef.h>

#include "lib/conf.h"
#include "util/buf.h"

/* feed_check: what f's parser says of f before any file: 0, or -1 with why in err. */
int feed_check(const struct feed *f, struct buf *err);

/* conf_read, conf_read_text and conf_read_snapshot with feed_check (conf.h) */
struct conf *conf_load(const char *path, struct buf *err);
struct conf *conf_load_text(const char *path, const char *text, size_t len, struct buf *err);
struct conf *conf_load_snapshot(int fd, struct buf *err);

#endif
