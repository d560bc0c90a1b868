/*
 * publish - a file appears whole under its name, or not at all.
 *
 * Written under a random dot-name beside its final name (.NAME.XXXXXX.tmp,
 * O_CREAT|O_EXCL: nothing planted there is followed or reused; mode less the
 * umask, as open(2) would), then fsync'd,
 * renamed over the final name, and the directory fsync'd: after a crash or a
 * power loss the name holds the old bytes or the new ones. Reports, batches,
 * exports and BI days all come out this way.
 *
 * A failed fsync is fatal (util/durable.h): the caller's -1 is final, and
 * the daemon stops. On any failure the temporary is removed and the final
 * name is untouched.
 */
#ifndef DG_PUBLISH_H
#define DG_PUBLISH_H

#include <stdio.h>
#include <sys/types.h>

#include "util/buf.h"

enum {
	PUBLISH_NOSYNC = 1,    /* no fsync at all (dropgate check alone: an offline tool) */
	PUBLISH_DIR_LATER = 2, /* the caller fsyncs the directory once after a set of files */
};

struct publish {
	char *path; /* the final name */
	char *tmp;  /* the temporary, beside it */
	int fd;	    /* open on tmp, -1 once committed or aborted */
	FILE *fp;   /* publish_stream's, when asked for */
	unsigned flags;
};

/* publish_open: a new temporary for path. 0, or -1 with err. */
int publish_open(struct publish *p, const char *path, mode_t mode, unsigned flags, struct buf *err);
/* publish_write: n bytes to the temporary. 0, or -1 with err. */
int publish_write(struct publish *p, const void *data, size_t n, struct buf *err);
/* publish_stream: the temporary as a stdio stream (flushed by publish_commit). */
FILE *publish_stream(struct publish *p);
/* publish_commit: fsync, rename over path, fsync the directory. 0, or -1 with err. */
int publish_commit(struct publish *p, struct buf *err);
/* publish_abort: the temporary gone, path untouched; safe after commit. */
void publish_abort(struct publish *p);
/* publish_bytes: path holds exactly these bytes, durably. 0, or -1 with err. */
int publish_bytes(const char *path, const void *data, size_t n, mode_t mode, unsigned flags,
		  struct buf *err);

#endif
