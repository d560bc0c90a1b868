#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "queue/spool.h"
#include "util/crashpoint.h"
#include "util/durable.h"
#include "util/publish.h"
#include "util/xalloc.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int spool_ignored_name(const char *name)
{
	return name[0] == '.' || ends_with(name, ".part") || ends_with(name, ".filepart") ||
	       ends_with(name, ".tmp") || ends_with(name, ".ok");
}

static int copy_fd(int in, int out)
{
	char block[65536];
	ssize_t n;
	int first = 1;

	while ((n = read(in, block, sizeof(block))) != 0) {
		char *p = block;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			p += w;
			n -= w;
		}
		if (first)
			crash_point("copy-mid-write");
		first = 0;
	}
	return 0;
}

char *spool_temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xasprintf(".%s.copying", path);
	return xasprintf("%.*s/.%s.copying", (int)(slash - path), path, slash + 1);
}

/*
 * copy_file: to (new) holds from's bytes, fsync'd. Written under a temporary
 * name and renamed: a name that exists is a whole copy, whenever the process
 * was killed.
 */
static int copy_file(const char *from, const char *to, struct buf *err)
{
	char *tmp = spool_temp_name(to);
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int out = -1;
	int rc = -1;

	if (in >= 0 && access(to, F_OK) == 0)
		errno = EEXIST;
	else if (in >= 0 && (unlink(tmp) == 0 || errno == ENOENT))
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (in >= 0 && out >= 0 && copy_fd(in, out) == 0 && durable_fsync(out) == 0)
		rc = 0;
	else
		buf_printf(err, "cannot copy %s to %s: %s", from, to, strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && rc == 0) {
		buf_printf(err, "cannot write %s: %s", to, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, to) < 0) {
		buf_printf(err, "cannot rename %s to %s: %s", tmp, to, strerror(errno));
		rc = -1;
	}
	if (rc < 0 && out >= 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int spool_move(const char *from, const char *to, struct buf *err)
{
	char *fd_ = dir_of(from), *td = dir_of(to);
	int rc = -1;

	if (rename(from, to) == 0) {
		rc = 0;
	} else if (errno == EXDEV && copy_file(from, to, err) == 0) {
		int synced = fsync_dir(td) == 0;
		if (synced)
			crash_point("move-before-unlink");
		if (synced && unlink(from) == 0)
			rc = 0;
		else
			buf_printf(err, "cannot finish moving %s: %s", from, strerror(errno));
	} else if (err->len == 0) {
		buf_printf(err, "cannot move %s to %s: %s", from, to, strerror(errno));
	}
	if (rc == 0 && (fsync_dir(td) < 0 || fsync_dir(fd_) < 0)) {
		buf_printf(err, "cannot fsync the directories of %s: %s", to, strerror(errno));
		rc = -1;
	}
	free(fd_);
	free(td);
	return rc;
}

int spool_link_or_copy(const char *from, const char *to, struct buf *err)
{
	char *td = dir_of(to);
	int rc = link(from, to) == 0 ? 0 : copy_file(from, to, err);

	if (rc == 0 && fsync_dir(td) < 0) {
		buf_printf(err, "cannot fsync %s: %s", td, strerror(errno));
		rc = -1;
	}
	free(td);
	return rc;
}

int spool_gzip(const char *from, const char *to, struct buf *err)
{
	struct publish out;
	int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	gzFile gz = NULL;
	char block[65536];
	ssize_t n = -1;
	int dupfd;

	if (in < 0 || publish_open(&out, to, 0640, 0, err) < 0) {
		if (in < 0)
			buf_printf(err, "cannot archive %s: %s", from, strerror(errno));
		else
			close(in);
		return -1;
	}
	/* gzclose closes its own descriptor: the publisher keeps its own for the fsync */
	dupfd = dup(out.fd);
	/* level 1: a 50 MB ERP snapshot in 0.14 s instead of 0.71 s (level 6), for an
	   archive 28 % larger (5.8 MB instead of 4.5): the archive is on the file's
	   way to done, the disk it saves is kept only keep_days */
	gz = dupfd >= 0 ? gzdopen(dupfd, "wb1") : NULL;
	if (gz == NULL && dupfd >= 0)
		close(dupfd);
	while (gz && (n = read(in, block, sizeof(block))) > 0)
		if (gzwrite(gz, block, (unsigned)n) != (int)n) {
			n = -1;
			break;
		}
	close(in);
	if (gz == NULL || gzclose(gz) != Z_OK || n < 0) {
		buf_printf(err, "cannot archive %s as %s: %s", from, to, strerror(errno));
		publish_abort(&out);
		return -1;
	}
	return publish_commit(&out, err);
}

int sha256_file(const char *path, char out[65], struct buf *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], block[65536];
	unsigned int mdlen = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0 && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		while ((n = read(fd, block, sizeof(block))) > 0)
			EVP_DigestUpdate(ctx, block, (size_t)n);
		if (n == 0)
			EVP_DigestFinal_ex(ctx, md, &mdlen);
	}
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	if (n != 0 || mdlen != 32) {
		buf_printf(err, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void remove_tree(const char *dir)
{
	/* depth first, links not followed: a sequence's work dir holds a directory a
	   target (sift.TARGET/), which one level of unlink left behind for ever */
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

unsigned long long disk_free(const char *dir)
{
	struct statvfs s;

	if (statvfs(dir, &s) < 0)
		return ~0ULL;
	return (unsigned long long)s.f_bavail * s.f_frsize;
}
