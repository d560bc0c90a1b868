/*
 * dropgate partner add [-c FILE] NAME [--user USER]: NAME's spool tree, made
 * or put right again (each directory's owner and mode are set whether it
 * existed or not): the chroot root and the ancestors of each feed directory
 * root-owned 0755, each feed's inbound directory USER's and the daemon's
 * group's, the outbound directories the daemon's in USER's group.
 */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "lib/conf.h"
#include "util/xalloc.h"

static const struct command_option partner_options[] = {
    {"user", 'u', required_argument},
    {NULL, 0, 0},
};

static int partner_name(struct command_ctx *cx);

static const char partner_usage[] =
    "usage: dropgate partner add [-c FILE] NAME [--user USER]\n"
    "Create NAME's spool tree: the chroot root owned by root (0755), each feed's inbound\n"
    "directory writable by USER and readable by the daemon's group, outbound directories\n"
    "writable by the daemon and readable by USER.\n";

const struct command_args partner_args = {
    .usage = partner_usage,
    .verb = "add",
    .options = partner_options,
    .operands = partner_name,
};

/* partner_name: one NAME, a directory's name (no '/', not hidden) */
static int partner_name(struct command_ctx *cx)
{
	if (cx->argc != 1 || strchr(cx->argv[0], '/') || cx->argv[0][0] == '.')
		return command_usage_error(cx);
	return 0;
}

static int matches_any(const struct strlist *patterns, const char *name)
{
	int matched = 0;

	for (size_t k = 0; k < patterns->n; k++)
		matched |= fnmatch(patterns->v[k], name, 0) == 0;
	return matched;
}

static int make_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		fprintf(stderr, "dropgate partner add: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0) {
		fprintf(stderr, "dropgate partner add: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* make_parents: the directories between root and path, each as make_dir makes it */
static int make_parents(const char *root, char *path, uid_t uid, gid_t gid, mode_t mode)
{
	int status = 0;

	for (char *s = path + strlen(root) + 1; !status && (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		status = make_dir(path, uid, gid, mode) < 0;
		*s = '/';
	}
	return status;
}

/* make_inbound: each feed directory of a feed NAME sends to: root-owned ancestors (a chroot
 * wants them), the directory itself the partner's (uid) and the daemon's group's. */
static int make_inbound(const struct conf *c, const char *name, const char *root, uid_t partner,
			gid_t daemon)
{
	int status = 0;

	for (size_t i = 0; !status && i < c->nfeeds; i++) {
		const struct feed *f = &c->feeds[i];
		char *path = xasprintf("%s/%s", root, f->dir);
		if (matches_any(&f->partners, name)) {
			status = make_parents(root, path, 0, 0, 0755);
			if (!status)
				status = make_dir(path, partner, daemon, 02770) < 0;
		}
		free(path);
	}
	return status;
}

/* make_outbound: what the daemon writes for the partner (reports, exports) lives in directories
 * the daemon owns, in the partner's group with set-group-ID: what the daemon creates there, even
 * under UMask=0027, is the partner's to read and no one else's. */
static int make_outbound(const struct conf *c, const char *name, const char *root, uid_t daemon,
			 gid_t partner)
{
	const mode_t mode = 02750;
	char *out = xasprintf("%s/outbound", root), *rep = xasprintf("%s/outbound/reports", root);
	int status =
	    make_dir(out, daemon, partner, mode) < 0 || make_dir(rep, daemon, partner, mode) < 0;

	for (size_t i = 0; !status && i < c->nexports; i++) {
		const struct export *e = &c->exports[i];
		char *path = xasprintf("%s/%s", root, e->dir);
		if (matches_any(&e->partners, name)) {
			status = make_parents(root, path, daemon, partner, mode);
			if (!status)
				status = make_dir(path, daemon, partner, mode) < 0;
		}
		free(path);
	}
	free(out);
	free(rep);
	return status;
}

int cmd_partner(struct command_ctx *cx)
{
	const struct conf *c = cx->conf;
	const char *user = command_opt(cx, "user"), *name = cx->argv[0];
	struct passwd *pw = NULL;
	struct stat st;
	char *root;
	int status;

	if (user && (pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "dropgate partner add: no user %s (create it first: see README)\n",
			user);
		return EXIT_USAGE;
	}
	/* the daemon's user and group: the ones that own the state directory */
	if (stat(c->state, &st) < 0) {
		st.st_uid = getuid();
		st.st_gid = getgid();
	}
	root = xasprintf("%s/%s", c->spool, name);
	status = make_dir(c->spool, 0, 0, 0755) < 0 || make_dir(root, 0, 0, 0755) < 0;
	if (!status)
		status = make_inbound(c, name, root, pw ? pw->pw_uid : 0, st.st_gid);
	if (!status)
		status = make_outbound(c, name, root, st.st_uid, pw ? pw->pw_gid : st.st_gid);
	if (!status)
		printf("partner %s: %s ready%s%s\n", name, root, user ? " for user " : "",
		       user ? user : "");
	free(root);
	return status ? EXIT_USAGE : 0;
}
