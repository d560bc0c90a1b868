#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/durable.h"
#include "util/xalloc.h"

static int fsync_failed;

int durable_failed(void)
{
	return __atomic_load_n(&fsync_failed, __ATOMIC_RELAXED);
}

int durable_fsync(int fd)
{
	int rc = fsync(fd);

	if (rc < 0 && errno != EINVAL && errno != EROFS)
		__atomic_store_n(&fsync_failed, 1, __ATOMIC_RELAXED);
	return rc;
}

/* on_dir: op on an open descriptor of dir, errno kept across the close */
static int on_dir(const char *dir, int (*op)(int fd))
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, e;

	if (fd < 0)
		return -1;
	rc = op(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int fsync_dir(const char *dir)
{
	return on_dir(dir, durable_fsync);
}

static int durable_syncfs_fd(int fd)
{
	int rc = syncfs(fd);

	if (rc < 0 && errno != EINVAL && errno != EROFS)
		__atomic_store_n(&fsync_failed, 1, __ATOMIC_RELAXED);
	return rc;
}

int durable_syncfs(const char *dir)
{
	return on_dir(dir, durable_syncfs_fd);
}

char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == path)
		return xstrdup("/");
	return slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
}

int mkdirs(const char *dir, mode_t mode, struct buf *err)
{
	char *p = xstrdup(dir);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			buf_printf(err, "cannot create %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST) {
		buf_printf(err, "cannot create %s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	free(p);
	return 0;
}
