/*
 * unpack - the members of an archive, read as streams, never written to disk.
 *
 * Formats by the file's name: .zip, .tar, .tar.gz/.tgz, and a single-file
 * .gz; libarchive is opened with only that format and the gzip filter. The
 * archive is listed first: a member whose name is absolute or has a ".."
 * component, a link (symbolic or hard), a device or FIFO, an encrypted member,
 * an archive inside the archive (unless nested archives are allowed), or more
 * than max_members selected members refuses the whole file, each with its own
 * message naming the member. Selected members (by the members globs) are
 * then read in name order. Reading stops at max_inflated bytes in all, or
 * when the bytes inflated pass max_ratio times the bytes read from the file
 * (after the first MiB): the zip bomb meets a cap, not the disk or memory.
 */
#ifndef DG_UNPACK_H
#define DG_UNPACK_H

#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/strlist.h"

enum unpack_kind { UNPACK_NONE, UNPACK_ZIP, UNPACK_TAR, UNPACK_TGZ, UNPACK_GZ };

struct unpack_limits {
	unsigned long max_members;
	unsigned long long max_inflated;
	unsigned long max_ratio;
	int nested; /* an archive inside the archive is read too (one level) */
};

struct unpack;

/* unpack_kind_of: what the name says the file is. */
enum unpack_kind unpack_kind_of(const char *name);
void unpack_default_limits(struct unpack_limits *l);
/* unpack_open: list and check path's members. NULL with err when refused. */
struct unpack *unpack_open(const char *path, const char *name, enum unpack_kind kind,
			   const struct strlist *members, const struct unpack_limits *lim,
			   struct buf *err);
void unpack_close(struct unpack *u);
/* The selected members, in name order. */
size_t unpack_count(const struct unpack *u);
const char *unpack_member(const struct unpack *u, size_t i);
/* unpack_begin: the next unpack_read reads member i. 0 or -1 with err. */
int unpack_begin(struct unpack *u, size_t i, struct buf *err);
/*
 * unpack_read: bytes of the member; 0 at its end; -1 with err (a cap, a broken
 * archive), worded to follow the member's name.
 */
ssize_t unpack_read(struct unpack *u, void *p, size_t n, struct buf *err);

#endif
