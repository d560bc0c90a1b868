/*
 * durable - making what was written stay written: fsync of files and
 * directories, and directories made with their parents.
 *
 * A failed fsync is remembered for the life of the process (durable_failed):
 * after it, what is on disk is unknown, and a second fsync could report
 * success for pages the kernel dropped (the PostgreSQL fsync lesson). The
 * daemon stops when it is set; a parser process exits with its I/O status.
 * EINVAL and EROFS (a file system that cannot sync) are not failures.
 */
#ifndef DG_DURABLE_H
#define DG_DURABLE_H

#include <sys/types.h>

#include "util/buf.h"

/* durable_fsync: fsync(fd); -1 with errno, and durable_failed() from then on. */
int durable_fsync(int fd);
/* durable_failed: an fsync of this process failed since it started. */
int durable_failed(void);
/* fsync_dir: make a directory's entries durable. 0 or -1 (errno). */
int fsync_dir(const char *dir);
/*
 * durable_syncfs: everything written on dir's file system durable, data and
 * directory entries (one journal commit): for many files written at once,
 * one call instead of an fsync each. 0, or -1 with errno and durable_failed().
 */
int durable_syncfs(const char *dir);
/* mkdirs: create dir and its parents (mode for the new ones). 0 or -1 with err. */
int mkdirs(const char *dir, mode_t mode, struct buf *err);
/* dir_of: the directory part of path ("." for a bare name); the caller frees. */
char *dir_of(const char *path);

#endif
