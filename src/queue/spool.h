/*
 * spool - the daemon's file moves, each durable before the next step relies
 * on it: claiming a partner's file out of the inbound directory into
 * <state>/work/<id>/, archiving it compressed, or parking it in failed/.
 * A queue is directories plus the ledger (Postfix's way): create with O_EXCL,
 * write, fsync, rename, fsync the directory. A failed fsync is reported, and
 * the daemon stops rather than retrying it (util/durable.h).
 */
#ifndef DG_SPOOL_H
#define DG_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/durable.h" /* fsync_dir, mkdirs: most callers want both */

/* spool_ignored_name: a temporary or marker name (.x, *.part, *.filepart, *.tmp, *.ok). */
int spool_ignored_name(const char *name);
/*
 * spool_move: rename from to to (a new name), or copy, fsync and unlink when
 * they are on different filesystems; both directories fsync'd. 0 or -1.
 * A copy is written as spool_temp_name(to) and renamed to to once whole and
 * fsync'd: to exists only complete; a cut copy leaves only the temporary.
 */
int spool_move(const char *from, const char *to, struct buf *err);
/* spool_temp_name: where a copy to path is written before its rename (.NAME.copying). */
char *spool_temp_name(const char *path);
/* spool_link_or_copy: a second name for a claimed file (several feeds, one dir). */
int spool_link_or_copy(const char *from, const char *to, struct buf *err);
/* spool_gzip: to = gzip of from, durable; from untouched. 0 or -1. */
int spool_gzip(const char *from, const char *to, struct buf *err);
/* sha256_file: the file's SHA-256 as hex (65 bytes). 0 or -1. */
int sha256_file(const char *path, char out[65], struct buf *err);
/* remove_tree: a work directory and everything in it (links not followed). */
void remove_tree(const char *dir);
/* disk_free: bytes free for an unprivileged writer under dir; ~0 when unknown. */
unsigned long long disk_free(const char *dir);

#endif
