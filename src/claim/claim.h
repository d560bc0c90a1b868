/*
 * claim - a partner's file taken out of its inbound directory into the ledger
 * and <state>/work/<id>/, exactly once, wherever the daemon is killed.
 *
 * The steps, each durable before the next:
 *   1. one ledger row per feed reading the directory, all in one transaction:
 *      state received, path = where the file is (the spool path);
 *   2. the file moved into work/<first id>/NAME (across filesystems: copied
 *      under a temporary name, fsync'd, renamed, then the original unlinked);
 *   3. a link (or whole copy, the same way) into work/<id>/NAME for each
 *      other row;
 *   4. each row: its work path and state processing.
 * While any row of a claim is received, all of them are, with the same path:
 * claim_finish finishes the claim from the ledger alone, taking the file
 * from the first work/<id>/NAME that exists (only whole copies have that
 * name) or else from the path. A claim that cannot move the file (the
 * partner's directory is read-only) keeps its rows received, retried with a
 * doubling wait; a scan never adds a second row for a path in flight.
 *
 * A refused entry (not a regular file, hard-linked, too large) is never read:
 * it is moved into failed/ by rename; across filesystems a symbolic link is
 * made again there and a regular file copied only when the state disk keeps
 * min_free; otherwise it stays where it is, refused once. Never deleted.
 */
#ifndef DG_CLAIM_H
#define DG_CLAIM_H

#include <sys/stat.h>

#include "queue/ledger.h"
#include "lib/conf.h"

/*
 * claim_file: from (seen by a scan as st) for each of the feeds reading its
 * directory. The first row's id once claimed; 0 when the file is gone or
 * replaced since the scan, or its claim waits for a retry; -1 when the
 * ledger cannot be written.
 */
long long claim_file(struct ledger *l, const struct conf *c, const struct feed *const *feeds,
		     size_t nfeeds, const char *partner, const char *from, const struct stat *st);
/*
 * claim_finish: the received rows whose path is path, claimed (steps 2-4).
 * 0 done (or nothing to do), -1 they wait for their retry or failed.
 * Several threads may call it: claims are finished one at a time.
 */
int claim_finish(struct ledger *l, const struct conf *c, const char *path);
/*
 * claim_refuse: from refused for each feed, with why: rows in state refused.
 * 1 with the new rows' ids in ids (the caller reports, then moves it aside),
 * 0 when this entry was refused already, -1 when the ledger failed.
 */
int claim_refuse(struct ledger *l, const struct feed *const *feeds, size_t nfeeds,
		 const char *partner, const char *from, const struct stat *st, const char *why,
		 long long *ids);
/* claim_move_aside: a refused entry into failed/ (see above); the rows get its new path. */
void claim_move_aside(struct ledger *l, const struct conf *c, const struct feed *feed,
		      const char *partner, const char *from, const struct stat *st,
		      const long long *ids, size_t nids);
/* claim_marker_fresh: path.ok exists and is not older than path (st). */
int claim_marker_fresh(const char *path, const struct stat *st);
/* claim_marker_remove: path.ok removed, durably (the directory fsync'd). */
void claim_marker_remove(const char *path);
/*
 * claim_stage_dir: a new directory under work/ where redrop writes a copy
 * before it names it in the ledger (caller frees); NULL with err.
 */
char *claim_stage_dir(const struct conf *c, struct buf *err);
/* claim_clean_stages: staging directories no received row names (a redrop cut short). */
void claim_clean_stages(struct ledger *l, const struct conf *c);

#endif
