/*
 * faultshim.so: an LD_PRELOAD library that fails one disk operation, for the
 * disk-fault tests (tests/integration/test_faults.py).
 *
 * It counts, in the process that loads it, the calls that make data durable
 * or visible: write and pwrite to regular files, fsync, fdatasync, syncfs, rename,
 * renameat, link, linkat, and open/openat with O_CREAT. The DG_FAULT_AT-th
 * counted call fails with DG_FAULT_ERRNO (EIO, the default, or ENOSPC)
 * without doing anything; with DG_FAULT_STICKY=1 every later one fails too.
 * DG_FAULT_AT=0 fails nothing and only counts. DG_FAULT_PATH=TEXT counts only
 * calls on paths containing TEXT (ledger.db, say); DG_FAULT_ARM=FILE counts
 * only while FILE exists (a test arms the fault at the moment it wants).
 * DG_FAULT_COUNT names a file
 * that holds the count so far (a decimal number, kept up to date through a
 * shared mapping, so it is right even after kill -9).
 *
 * Children do not inherit it: LD_PRELOAD is taken out of the environment at
 * load, so the daemon's parser processes run unharmed. DG_FAULT_CHILDREN=1
 * turns that round: the process that loads it first fails nothing and keeps
 * LD_PRELOAD, and each of its children (the parser processes) counts its own
 * calls and fails its own DG_FAULT_AT-th one; at exit it says on stderr
 * "faultshim: N calls" (a sandboxed child cannot write DG_FAULT_COUNT).
 * The failed call is told on stderr: "faultshim: call N (rename) fails: EIO".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long fault_at, calls;
static int fault_errno = EIO, sticky, ready, in_child;
static char *count_map;
static const char *only_path, *arm_file;

#define COUNT_WIDTH 24

static void *real(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (fn == NULL)
		abort(); /* a libc without it: the test cannot mean anything */
	return fn;
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *at = getenv("DG_FAULT_AT"), *err = getenv("DG_FAULT_ERRNO");
	const char *count = getenv("DG_FAULT_COUNT"), *st = getenv("DG_FAULT_STICKY");

	fault_at = at ? strtoul(at, NULL, 10) : 0;
	fault_errno = err && strcmp(err, "ENOSPC") == 0 ? ENOSPC : EIO;
	sticky = st && strcmp(st, "1") == 0;
	only_path = getenv("DG_FAULT_PATH");
	arm_file = getenv("DG_FAULT_ARM");
	if (count) {
		int (*open_real)(const char *, int, ...) = (int (*)(const char *, int, ...))real("open");
		int fd = open_real(count, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0 && ftruncate(fd, COUNT_WIDTH) == 0) {
			void *m = mmap(NULL, COUNT_WIDTH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			count_map = m == MAP_FAILED ? NULL : m;
		}
		if (fd >= 0)
			close(fd);
	}
	if (getenv("DG_FAULT_CHILDREN") && !getenv("DG_FAULT_IN_CHILD")) {
		setenv("DG_FAULT_IN_CHILD", "1", 1); /* for the children: they count */
		return;                              /* this process does not */
	}
	in_child = getenv("DG_FAULT_IN_CHILD") != NULL;
	unsetenv("LD_PRELOAD");
	ready = 1;
}

__attribute__((destructor)) static void shim_fini(void)
{
	char line[64];
	int len;

	if (!in_child)
		return;
	ready = 0; /* the line itself is not counted */
	len = snprintf(line, sizeof(line), "faultshim: %lu calls\n",
		       __atomic_load_n(&calls, __ATOMIC_SEQ_CST));
	if (write(2, line, (size_t)len) < 0) {
		/* nowhere to say it */
	}
}

/* concerned: the call is on a path containing DG_FAULT_PATH (fd >= 0: the fd's path). */
static int concerned(int fd, const char *path, const char *other)
{
	char link[64], target[4096];
	ssize_t n;

	if (only_path == NULL)
		return 1;
	if (fd >= 0) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			return 0;
		target[n] = '\0';
		path = target;
	}
	return (path && strstr(path, only_path)) || (other && strstr(other, only_path));
}

/* fail_now: count one call of fn; 1 when it is the one to fail (errno is set). */
static int fail_now(const char *fn, int fd, const char *path, const char *other)
{
	unsigned long n;
	char line[96];
	int len;

	if (!ready || !concerned(fd, path, other) || (arm_file && access(arm_file, F_OK) != 0))
		return 0;
	n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
	if (count_map) {
		char num[COUNT_WIDTH + 1];
		snprintf(num, sizeof(num), "%*lu", COUNT_WIDTH - 1, __atomic_load_n(&calls, __ATOMIC_SEQ_CST));
		memcpy(count_map, num, COUNT_WIDTH - 1);
		count_map[COUNT_WIDTH - 1] = '\n';
	}
	if (fault_at == 0 || n < fault_at || (n > fault_at && !sticky))
		return 0;
	len = snprintf(line, sizeof(line), "faultshim: call %lu (%s) fails: %s\n", n, fn,
		       fault_errno == ENOSPC ? "ENOSPC" : "EIO");
	if (len > 0) {
		ssize_t (*write_fn)(int, const void *, size_t) = real("write");
		if (write_fn(2, line, (size_t)len) < 0) {
			/* nowhere to tell it */
		}
	}
	errno = fault_errno;
	return 1;
}

static int regular(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*fn)(int, const void *, size_t);

	if (!fn)
		fn = real("write");
	if (regular(fd) && fail_now("write", fd, NULL, NULL))
		return -1;
	return fn(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*fn)(int, const void *, size_t, off_t);

	if (!fn)
		fn = real("pwrite");
	if (regular(fd) && fail_now("pwrite", fd, NULL, NULL))
		return -1;
	return fn(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	static ssize_t (*fn)(int, const void *, size_t, off64_t);

	if (!fn)
		fn = real("pwrite64");
	if (regular(fd) && fail_now("pwrite64", fd, NULL, NULL))
		return -1;
	return fn(fd, buf, n, off);
}

int fsync(int fd)
{
	static int (*fn)(int);

	if (!fn)
		fn = real("fsync");
	return fail_now("fsync", fd, NULL, NULL) ? -1 : fn(fd);
}

int fdatasync(int fd)
{
	static int (*fn)(int);

	if (!fn)
		fn = real("fdatasync");
	return fail_now("fdatasync", fd, NULL, NULL) ? -1 : fn(fd);
}

int syncfs(int fd)
{
	static int (*fn)(int);

	if (!fn)
		fn = real("syncfs");
	return fail_now("syncfs", fd, NULL, NULL) ? -1 : fn(fd);
}

int rename(const char *from, const char *to)
{
	static int (*fn)(const char *, const char *);

	if (!fn)
		fn = real("rename");
	return fail_now("rename", -1, from, to) ? -1 : fn(from, to);
}

int renameat(int fromdir, const char *from, int todir, const char *to)
{
	static int (*fn)(int, const char *, int, const char *);

	if (!fn)
		fn = real("renameat");
	return fail_now("renameat", -1, from, to) ? -1 : fn(fromdir, from, todir, to);
}

int link(const char *from, const char *to)
{
	static int (*fn)(const char *, const char *);

	if (!fn)
		fn = real("link");
	return fail_now("link", -1, from, to) ? -1 : fn(from, to);
}

int linkat(int fromdir, const char *from, int todir, const char *to, int flags)
{
	static int (*fn)(int, const char *, int, const char *, int);

	if (!fn)
		fn = real("linkat");
	return fail_now("linkat", -1, from, to) ? -1 : fn(fromdir, from, todir, to, flags);
}

/* the open family: only creating opens count */
static int creating(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_MODE(flags, mode)                           \
	do {                                             \
		if (creating(flags)) {                   \
			va_list ap;                      \
			va_start(ap, flags);             \
			mode = va_arg(ap, mode_t);       \
			va_end(ap);                      \
		}                                        \
	} while (0)

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

int open(const char *path, int flags, ...)
{
	static open_fn fn;
	mode_t mode = 0;

	if (!fn)
		fn = (open_fn)real("open");
	OPEN_MODE(flags, mode);
	return creating(flags) && fail_now("open", -1, path, NULL) ? -1 : fn(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	static open_fn fn;
	mode_t mode = 0;

	if (!fn)
		fn = (open_fn)real("open64");
	OPEN_MODE(flags, mode);
	return creating(flags) && fail_now("open64", -1, path, NULL) ? -1 : fn(path, flags, mode);
}

int openat(int dir, const char *path, int flags, ...)
{
	static openat_fn fn;
	mode_t mode = 0;

	if (!fn)
		fn = (openat_fn)real("openat");
	OPEN_MODE(flags, mode);
	return creating(flags) && fail_now("openat", -1, path, NULL) ? -1 : fn(dir, path, flags, mode);
}

int openat64(int dir, const char *path, int flags, ...)
{
	static openat_fn fn;
	mode_t mode = 0;

	if (!fn)
		fn = (openat_fn)real("openat64");
	OPEN_MODE(flags, mode);
	return creating(flags) && fail_now("openat64", -1, path, NULL) ? -1 : fn(dir, path, flags, mode);
}
