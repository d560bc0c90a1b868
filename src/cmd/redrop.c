/*
 * dropgate redrop [-c FILE] ID [--force]: queue a failed file again (--force:
 * a finished one too), beside a running daemon. The bytes are copied first
 * into a staging directory no ledger row names yet (from the archive,
 * uncompressed, when the file was archived); then one new row names the
 * whole copy, and the daemon's dispatcher finishes that claim like any other.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "claim/claim.h"
#include "cmd/commands.h"
#include "queue/ledger.h"
#include "queue/spool.h"
#include "util/buf.h"
#include "util/crashpoint.h"
#include "util/xalloc.h"

static const struct command_option redrop_options[] = {
    {"force", 'f', no_argument},
    {NULL, 0, 0},
};

const struct command_args redrop_args = {
    .usage = "usage: dropgate redrop [-c FILE] ID [--force]\n"
	     "Queue a failed file again; --force also a finished one.\n",
    .options = redrop_options,
};

static int gunzip_to(const char *from, const char *to, struct buf *err)
{
	gzFile in = gzopen(from, "rb");
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	char block[65536];
	int n, rc = -1;

	if (in && out >= 0) {
		while ((n = gzread(in, block, sizeof(block))) > 0) {
			if (write(out, block, (size_t)n) != n)
				break;
			crash_point("redrop-mid-copy");
		}
		if (n == 0 && durable_fsync(out) == 0)
			rc = 0;
	}
	if (rc < 0)
		buf_printf(err, "cannot restore %s: %s", from, strerror(errno));
	if (in)
		gzclose(in);
	if (out >= 0)
		close(out);
	return rc;
}

static int ends_gz(const char *s)
{
	size_t n = strlen(s);

	return n > 3 && strcmp(s + n - 3, ".gz") == 0;
}

/* may_redrop: a failed file, or with --force a finished one; else why not, told. */
static int may_redrop(const struct ledger_file *f, long long id, int force)
{
	if (strcmp(f->state, ST_FAILED) == 0 ||
	    (force && (!strcmp(f->state, ST_DONE) || !strcmp(f->state, ST_PARTIAL) ||
		       !strcmp(f->state, ST_DUPLICATE) || !strcmp(f->state, ST_STALE))))
		return 1;
	fprintf(stderr, "dropgate redrop: file %lld is %s: %s\n", id, f->state,
		force ? "only failed or finished files are queued again"
		      : "only failed files are queued again (--force for finished ones)");
	return 0;
}

/* stage_copy: f's bytes, as the partner sent them, in a new staging directory *wd as *to. */
static int stage_copy(const struct conf *c, const struct ledger_file *f, char **wd, char **to,
		      struct buf *err)
{
	int archived = ends_gz(f->path) && strstr(f->path, "/archive/") && !ends_gz(f->name);

	*wd = claim_stage_dir(c, err);
	if (*wd == NULL)
		return -1;
	*to = xasprintf("%s/%s", *wd, f->name);
	if ((archived ? gunzip_to(f->path, *to, err) : spool_link_or_copy(f->path, *to, err)) < 0 ||
	    fsync_dir(*wd) < 0) {
		remove_tree(*wd);
		return -1;
	}
	return 0;
}

int cmd_redrop(struct command_ctx *cx)
{
	const struct ledger_file *f = &cx->file;
	int force = command_opt(cx, "force") != NULL, status = EXIT_USAGE;
	struct buf err = BUF_INIT(4096);
	char *wd = NULL, *to = NULL, msg[128];
	const char *feed = f->feed;
	long long nid;
	struct ledger_lane lane = {f->lane[0] ? f->lane : NULL, f->stamp};

	if (!may_redrop(f, cx->id, force))
		return EXIT_USAGE;
	if (stage_copy(cx->conf, f, &wd, &to, &err) < 0) {
		fprintf(stderr, "dropgate redrop: %s\n", buf_cstr(&err));
		goto out;
	}
	snprintf(msg, sizeof(msg), "queued again from file %lld%s", cx->id,
		 force ? " (forced)" : "");
	/* force 2: --force, which also applies a snapshot past max_absent */
	if (ledger_add_group(cx->ledger, f->partner, &feed, 1, f->name, to, f->size, force ? 2 : 1,
			     ST_RECEIVED, msg, &lane, &nid) < 0) {
		fprintf(stderr, "dropgate redrop: the ledger cannot be written\n");
		remove_tree(wd);
		goto out;
	}
	printf("file %lld queued again as file %lld\n", cx->id, nid);
	status = 0;
out:
	free(wd);
	free(to);
	buf_release(&err);
	return status;
}
