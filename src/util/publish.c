#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/durable.h"
#include "util/io.h"
#include "util/publish.h"
#include "util/xalloc.h"

/* process_umask: from /proc (umask(2) cannot be read without being changed, which would race
   other threads creating files); 022 when it cannot be read */
static mode_t process_umask(void)
{
	static unsigned known_mask; /* the mask + 1, 0 until read */
	unsigned m = __atomic_load_n(&known_mask, __ATOMIC_RELAXED), mask = 022;
	char line[128];
	FILE *fp;

	if (m)
		return (mode_t)(m - 1);
	fp = fopen("/proc/self/status", "re");
	while (fp && fgets(line, sizeof(line), fp))
		if (strncmp(line, "Umask:", 6) == 0) {
			mask = (unsigned)strtoul(line + 6, NULL, 8) & 0777;
			break;
		}
	if (fp)
		fclose(fp);
	__atomic_store_n(&known_mask, mask + 1, __ATOMIC_RELAXED);
	return (mode_t)mask;
}

int publish_open(struct publish *p, const char *path, mode_t mode, unsigned flags, struct buf *err)
{
	const char *slash = strrchr(path, '/');

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->flags = flags;
	p->path = xstrdup(path);
	/* .NAME.XXXXXX.tmp, NAME cut so that a name of 255 bytes still has a temporary */
	if (slash)
		p->tmp = xasprintf("%.*s/.%.200s.XXXXXX.tmp", (int)(slash - path), path, slash + 1);
	else
		p->tmp = xasprintf(".%.200s.XXXXXX.tmp", path);
	/* O_CREAT|O_EXCL under a random name, so a link planted there is refused */
	p->fd = mkostemps(p->tmp, 4, O_CLOEXEC);
	if (p->fd < 0 || fchmod(p->fd, mode & ~process_umask()) < 0) {
		buf_printf(err, "cannot create a temporary for %s: %s", path, strerror(errno));
		publish_abort(p);
		return -1;
	}
	return 0;
}

int publish_write(struct publish *p, const void *data, size_t n, struct buf *err)
{
	if (write_all(p->fd, data, n) < 0) {
		buf_printf(err, "cannot write %s: %s", p->tmp, strerror(errno));
		return -1;
	}
	return 0;
}

FILE *publish_stream(struct publish *p)
{
	if (p->fp == NULL && p->fd >= 0)
		p->fp = fdopen(p->fd, "w");
	return p->fp;
}

int publish_commit(struct publish *p, struct buf *err)
{
	const char *what = "write";
	int ok = p->fd >= 0;

	if (ok && p->fp && fflush(p->fp) != 0)
		ok = 0;
	if (ok && !(p->flags & PUBLISH_NOSYNC) && durable_fsync(p->fd) < 0) {
		what = "fsync";
		ok = 0;
	}
	if (ok && rename(p->tmp, p->path) < 0) {
		what = "rename";
		ok = 0;
	}
	if (ok && !(p->flags & (PUBLISH_NOSYNC | PUBLISH_DIR_LATER))) {
		char *dir = dir_of(p->path);
		if (fsync_dir(dir) < 0) {
			what = "fsync the directory of";
			ok = 0;
		}
		free(dir);
	}
	if (!ok)
		buf_printf(err, "cannot %s %s: %s", what, p->path, strerror(errno));
	else {
		free(p->tmp); /* renamed: nothing to remove */
		p->tmp = NULL;
	}
	publish_abort(p);
	return ok ? 0 : -1;
}

void publish_abort(struct publish *p)
{
	int e = errno; /* the caller's error is the one to tell */

	if (p->fp)
		fclose(p->fp);
	else if (p->fd >= 0)
		close(p->fd);
	if (p->tmp)
		unlink(p->tmp);
	free(p->tmp);
	free(p->path);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	errno = e;
}

int publish_bytes(const char *path, const void *data, size_t n, mode_t mode, unsigned flags,
		  struct buf *err)
{
	struct publish p;

	if (publish_open(&p, path, mode, flags, err) < 0)
		return -1;
	if (publish_write(&p, data, n, err) < 0) {
		publish_abort(&p);
		return -1;
	}
	return publish_commit(&p, err);
}
