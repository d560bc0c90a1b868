/*
 * retention - what the state directory keeps, and for how long: archived
 * originals pruned keep_days after they were archived (by the archive's
 * ctime: an archive hard-linked from the upload keeps the partner's mtime),
 * and at start the work directories of files that ended (a crash between the
 * end state and the removal). A work directory of a file in flight, deferred
 * or parked, or one the ledger does not know, is never removed.
 */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/ledger.h"
#include "queue/spool.h"
#include "retention/retention.h"
#include "util/log.h"
#include "util/xalloc.h"

/* retention_prune: archived originals older than keep_days (since archived) go. */
void retention_prune(const struct conf *c)
{
	char *root = xasprintf("%s/archive", c->state);
	DIR *p = opendir(root);
	struct dirent *e1, *e2, *e3;
	time_t limit = time(NULL) - (time_t)c->keep_days * 86400;

	while (p && (e1 = readdir(p)) != NULL) {
		char *pd;
		DIR *f;
		if (e1->d_name[0] == '.')
			continue;
		pd = xasprintf("%s/%s", root, e1->d_name);
		f = opendir(pd);
		while (f && (e2 = readdir(f)) != NULL) {
			char *fd_;
			DIR *x;
			if (e2->d_name[0] == '.')
				continue;
			fd_ = xasprintf("%s/%s", pd, e2->d_name);
			x = opendir(fd_);
			while (x && (e3 = readdir(x)) != NULL) {
				char *path = xasprintf("%s/%s", fd_, e3->d_name);
				struct stat st;
				/* ctime, the archive's own stamp (its link or rename set it): a
				   hard-linked archive keeps the partner's mtime, maybe years old */
				if (e3->d_name[0] != '.' && stat(path, &st) == 0 &&
				    S_ISREG(st.st_mode) && st.st_ctime < limit) {
					unlink(path);
					log_simple(LOG_INFO, "archive_pruned", "%s", path);
				}
				free(path);
			}
			if (x)
				closedir(x);
			free(fd_);
		}
		if (f)
			closedir(f);
		free(pd);
	}
	if (p)
		closedir(p);
	free(root);
}

/* retention_clean_work: work directories of files that reached their end (a crash after the state).
 */
void retention_clean_work(struct ledger *l, const struct conf *c)
{
	char *root = xasprintf("%s/work", c->state);
	DIR *dh = opendir(root);
	struct dirent *e;

	while (dh && (e = readdir(dh)) != NULL) {
		struct ledger_file f;
		char *end;
		long long id = strtoll(e->d_name, &end, 10);

		if (*end || id <= 0)
			continue;
		/* ended files only: in flight, deferred or parked stay, and unknown ids stay
		   for a person to look at */
		if (ledger_get(l, id, &f) == 0 && state_is(f.state, STATE_FINAL)) {
			char *wd = xasprintf("%s/%s", root, e->d_name),
			     *out = xasprintf("%s/.out", wd);
			remove_tree(out);
			remove_tree(wd);
			free(wd);
			free(out);
		}
	}
	if (dh)
		closedir(dh);
	free(root);
}
