/*
 * sandbox - the parser child and its cage (see sandbox.h for the promise).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <link.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parse/sandbox.h"
#include "lib/conf.h"
#include "lib/xmlin.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Landlock ABI 3 to 6 constants; Debian 12's kernel headers stop at ABI 2. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define DG_LANDLOCK_NET_BIND_TCP (1ULL << 0)
#define DG_LANDLOCK_NET_CONNECT_TCP (1ULL << 1)
#define DG_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define DG_LANDLOCK_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; the kernel takes the prefix its ABI knows. */
struct dg_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;	     /* ABI 6 */
};

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_OUTDIR                                                                                  \
	(FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |                 \
	 LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |                            \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE)

/* --- which layers this machine offers ------------------------------------------------ */

static pthread_once_t probed = PTHREAD_ONCE_INIT;
static unsigned layers_available;
static int landlock_version;
static char layers_missing[512];

static void note_missing(const char *layer, const char *why)
{
	size_t n = strlen(layers_missing);

	snprintf(layers_missing + n, sizeof(layers_missing) - n, "%s%s (%s)", n ? ", " : "", layer,
		 why);
}

static int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? -errno : (int)v;
}

/* netns_works: a throwaway child tries what the parser child will do. */
static int netns_works(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0 ? errno : 0);
	if (pid < 0)
		return errno;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL;
}

static const char *netns_why(int e)
{
	return e == EPERM || e == ENOSPC ? "unprivileged user namespaces are not allowed here"
					 : strerror(e);
}

static const char *landlock_why(int v)
{
	if (v == -EOPNOTSUPP)
		return "disabled at boot";
	return v == -ENOSYS ? "not in this kernel" : strerror(-v);
}

static void probe_layers(void)
{
	int e;

	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0)
		layers_available |= SANDBOX_NO_NEW_PRIVS;
	else
		note_missing("no_new_privs", strerror(errno));
	e = netns_works();
	if (e == 0)
		layers_available |= SANDBOX_NETNS;
	else
		note_missing("netns", netns_why(e));
	landlock_version = landlock_abi();
	if (landlock_version > 0)
		layers_available |= SANDBOX_LANDLOCK;
	else
		note_missing("landlock", landlock_why(landlock_version));
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 && seccomp_api_get() >= 1)
		layers_available |= SANDBOX_SECCOMP;
	else
		note_missing("seccomp", "not in this kernel");
}

unsigned sandbox_available(void)
{
	pthread_once(&probed, probe_layers);
	return layers_available;
}

static void describe(unsigned layers, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s%s", layers & SANDBOX_NO_NEW_PRIVS ? "no_new_privs " : "",
		 layers & SANDBOX_NETNS ? "netns " : "",
		 layers & SANDBOX_LANDLOCK ? "landlock " : "",
		 layers & SANDBOX_SECCOMP ? "seccomp " : "");
	if (*out)
		out[strlen(out) - 1] = '\0';
}

void sandbox_daemon_start(void)
{
	unsigned on = sandbox_available();
	struct logline l;
	char names[128];

	/* where neither Landlock nor a user namespace holds it off, a child of our uid
	 * could otherwise read our memory, tokens and all, through /proc/PID/mem (sshd
	 * does the same) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	describe(on, names, sizeof(names));
	log_begin(&l, layers_missing[0] ? LOG_WARN : LOG_INFO, "parser_sandbox");
	log_kv(&l, "layers", names);
	if (on & SANDBOX_LANDLOCK)
		log_kvf(&l, "landlock_abi", "%d", landlock_version);
	if (layers_missing[0])
		log_kv(&l, "missing", layers_missing);
	log_end(&l);
}

/* --- starting the child ---------------------------------------------------------------- */

int parser_child_prepare(struct parser_child *pc, const char *self, const struct conf *c,
			 const struct feed *f, const char *file, const char *outdir,
			 struct buf *err)
{
	size_t n = 0;

	memset(pc, 0, sizeof(*pc));
	pc->conf_fd = memfd_create("dropgate.conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (pc->conf_fd < 0 || conf_snapshot_write(c, pc->conf_fd) < 0 ||
	    lseek(pc->conf_fd, 0, SEEK_SET) < 0 ||
	    fcntl(pc->conf_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		buf_printf(err, "cannot hand the configuration to the parser: %s", strerror(errno));
		if (pc->conf_fd >= 0)
			close(pc->conf_fd);
		return -1;
	}
	snprintf(pc->layers, sizeof(pc->layers), "--sandbox=%u", sandbox_available());
	snprintf(pc->conffd, sizeof(pc->conffd), "--conf-fd=%d", SANDBOX_CONF_FD);
	pc->argv[n++] = (char *)self;
	pc->argv[n++] = "-c";
	pc->argv[n++] = c->path; /* names the configuration in messages; not opened */
	pc->argv[n++] = "check";
	pc->argv[n++] = "--feed";
	pc->argv[n++] = f->name;
	pc->argv[n++] = "--out";
	pc->argv[n++] = (char *)outdir;
	pc->argv[n++] = "--origins";
	pc->argv[n++] = pc->conffd;
	pc->argv[n++] = pc->layers;
	pc->argv[n++] = "--";
	pc->argv[n++] = (char *)file;
	pc->argv[n] = NULL;
	return 0;
}

void parser_child_exec(const struct parser_child *pc, int null_fd)
{
	/* above every fd we are about to place: nothing below can clobber it */
	int conf = fcntl(pc->conf_fd, F_DUPFD, 10);

	if (conf < 0)
		_exit(127);
	if (null_fd >= 0) {
		dup2(null_fd, 0);
		dup2(null_fd, 1);
	}
	dup2(conf, SANDBOX_CONF_FD); /* dup2 clears close-on-exec on the copy */
	if (syscall(SYS_close_range, SANDBOX_CONF_FD + 1, ~0U, 0) < 0)
		for (int fd = SANDBOX_CONF_FD + 1; fd < 65536; fd++)
			close(fd);
	execv(pc->argv[0], pc->argv);
	_exit(127);
}

void parser_child_release(struct parser_child *pc)
{
	if (pc->conf_fd >= 0)
		close(pc->conf_fd);
	pc->conf_fd = -1;
}

/* --- the cage ---------------------------------------------------------------------------- */

/* enter_netns: a user and network namespace of its own, then no capabilities in it either. */
static int enter_netns(struct buf *err)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct none[2];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
		buf_printf(err, "netns: unshare: %s", strerror(errno));
		return -1;
	}
	/* the new namespace granted every capability within it: give them back */
	memset(none, 0, sizeof(none));
	if (syscall(SYS_capset, &hdr, none) < 0) {
		buf_printf(err, "netns: capset: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int landlock_allow(int ruleset, const char *path, uint64_t access, uint64_t handled,
			  int must_exist, struct buf *err)
{
	struct landlock_path_beneath_attr pb;
	int fd = open(path, O_PATH | O_CLOEXEC), rc;

	if (fd < 0) {
		if (!must_exist)
			return 0;
		buf_printf(err, "landlock: %s: %s", path, strerror(errno));
		return -1;
	}
	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = fd;
	pb.allowed_access = access & handled;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	if (rc < 0)
		buf_printf(err, "landlock: a rule for %s: %s", path, strerror(errno));
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* libc_dir: the directory glibc was loaded from, where its gconv/ lives. */
static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
	const char *slash = strrchr(info->dlpi_name, '/');

	(void)size;
	if (slash && strncmp(slash, "/libc.so", 8) == 0) {
		snprintf(data, PATH_MAX, "%.*s/gconv", (int)(slash - info->dlpi_name),
			 info->dlpi_name);
		return 1;
	}
	return 0;
}

/* allow_gconv: iconv loads its modules when a conversion first opens. */
static int allow_gconv(int ruleset, uint64_t handled, struct buf *err)
{
	const uint64_t lib = FS_READ | LANDLOCK_ACCESS_FS_EXECUTE;
	const char *env = getenv("GCONV_PATH");
	char dir[PATH_MAX] = "";

	dl_iterate_phdr(find_libc, dir);
	if (dir[0] && landlock_allow(ruleset, dir, lib, handled, 0, err) < 0)
		return -1;
	if (env && *env) {
		char *copy = xstrdup(env), *save = NULL;
		int rc = 0;
		for (char *p = strtok_r(copy, ":", &save); p && rc == 0;
		     p = strtok_r(NULL, ":", &save))
			rc = landlock_allow(ruleset, p, lib, handled, 0, err);
		free(copy);
		return rc;
	}
	return 0;
}

static int landlock_rules(int ruleset, uint64_t handled, char *const *inputs, size_t ninputs,
			  const char *outdir, struct buf *err)
{
	for (size_t i = 0; i < ninputs; i++)
		if (landlock_allow(ruleset, inputs[i], LANDLOCK_ACCESS_FS_READ_FILE, handled, 1,
				   err) < 0)
			return -1;
	if (landlock_allow(ruleset, outdir, FS_OUTDIR, handled, 1, err) < 0 ||
	    allow_gconv(ruleset, handled, err) < 0)
		return -1;
#ifdef DG_SANITIZERS
	/* LeakSanitizer walks /proc/self/task and maps at exit */
	if (landlock_allow(ruleset, "/proc", FS_READ, handled, 0, err) < 0)
		return -1;
#endif
	return 0;
}

static int enter_landlock(char *const *inputs, size_t ninputs, const char *outdir, struct buf *err)
{
	struct dg_ruleset_attr attr;
	size_t size = sizeof(attr.handled_access_fs);
	int abi = landlock_abi(), ruleset, rc;

	if (abi <= 0) {
		buf_printf(err, "landlock: %s", strerror(-abi));
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (abi >= 4) { /* no TCP at all: no rule allows a port */
		attr.handled_access_net = DG_LANDLOCK_NET_BIND_TCP | DG_LANDLOCK_NET_CONNECT_TCP;
		size = offsetof(struct dg_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = DG_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | DG_LANDLOCK_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0) {
		buf_printf(err, "landlock: create a ruleset (ABI %d): %s", abi, strerror(errno));
		return -1;
	}
	rc = landlock_rules(ruleset, attr.handled_access_fs, inputs, ninputs, outdir, err);
	if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		buf_printf(err, "landlock: restrict: %s", strerror(errno));
		rc = -1;
	}
	close(ruleset);
	return rc;
}

/* What a parser never needs, and an exploit would: each fails with EPERM. */
static const char *const denied_syscalls[] = {
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "execve",
    "execveat",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "process_vm_readv",
    "process_vm_writev",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "open_by_handle_at",
    "name_to_handle_at",
    "fsopen",
    "fsmount",
    "fspick",
    "open_tree",
    "move_mount",
    "mount_setattr",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "acct",
    "quotactl",
    "fanotify_init",
#ifndef DG_SANITIZERS
    "ptrace", /* LeakSanitizer stops the threads with it */
#endif
};

static int seccomp_rules(scmp_filter_ctx ctx)
{
	static const unsigned long new_ns[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
					       CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
					       CLONE_NEWCGROUP};
	int rc = 0;

	for (size_t i = 0; i < sizeof(denied_syscalls) / sizeof(*denied_syscalls); i++) {
		int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);
		if (nr != __NR_SCMP_ERROR)
			rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/* clone3 hides its flags in memory: ENOSYS makes glibc fall back to clone */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	for (size_t i = 0; i < sizeof(new_ns) / sizeof(*new_ns); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, new_ns[i], new_ns[i]));
	/* typing into the operator's terminal; the kernel reads the command as 32 bits */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCSTI));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, TIOCLINUX));
	return rc;
}

static int enter_seccomp(struct buf *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (ctx == NULL) {
		buf_printf(err, "seccomp: cannot start a filter");
		return -1;
	}
	rc = seccomp_rules(ctx);
	if (rc == 0)
		rc = seccomp_load(ctx);
	if (rc != 0)
		buf_printf(err, "seccomp: %s", strerror(rc < 0 ? -rc : rc));
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}

int sandbox_enter(unsigned layers, const struct feed *f, char *const *inputs, size_t ninputs,
		  const char *outdir, struct buf *err)
{
	/* what the feed needs from disk, read while the disk is still open */
	tzset();
	json_object_seed(0); /* jansson reads /dev/urandom for it once */
	xmlin_preload_schema(f);
	buf_printf(err, "the parser sandbox: ");
	if ((layers & (SANDBOX_NO_NEW_PRIVS | SANDBOX_LANDLOCK | SANDBOX_SECCOMP)) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		buf_printf(err, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	if ((layers & SANDBOX_NETNS) && enter_netns(err) < 0)
		return -1;
	if ((layers & SANDBOX_LANDLOCK) && enter_landlock(inputs, ninputs, outdir, err) < 0)
		return -1;
	if ((layers & SANDBOX_SECCOMP) && enter_seccomp(err) < 0)
		return -1;
	buf_reset(err);
	return 0;
}

/* --- the tests' probe ---------------------------------------------------------------------- */

static void probe_result(const char *attempt, const char *what, int rc, int error)
{
	struct logline l;

	log_begin(&l, LOG_WARN, "sandbox_probe");
	log_kv(&l, "attempt", attempt);
	log_kv(&l, "target", what);
	log_kv(&l, "result", rc < 0 ? "denied" : "allowed");
	if (rc < 0)
		log_kv(&l, "error", strerror(error));
	log_end(&l);
}

static void probe_open(const char *attempt, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	probe_result(attempt, path, fd, errno);
	if (fd >= 0) {
		close(fd);
		if (flags & O_CREAT)
			unlink(path);
	}
}

static void probe_connect(const char *port)
{
	struct sockaddr_in sa;
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;
	char what[64];

	snprintf(what, sizeof(what), "127.0.0.1:%s", port);
	if (s < 0) {
		probe_result("connect", what, -1, errno);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	probe_result("connect", what, rc, errno);
	close(s);
}

static void probe_exec(void)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(100 + (errno & 0x7f));
	}
	if (pid < 0) {
		probe_result("exec", "/bin/true", -1, errno);
		return;
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		probe_result("exec", "/bin/true", 0, 0);
	else
		probe_result("exec", "/bin/true", -1,
			     WIFEXITED(status) ? WEXITSTATUS(status) - 100 : EINTR);
}

void sandbox_probe(const struct conf *c, const char *input, const char *outdir, const char *port)
{
	char *outside[] = {xasprintf("%s/../sandbox-probe-escape", outdir),
			   xasprintf("%s/sandbox-probe-escape", c->state),
			   xasprintf("%s/sandbox-probe-escape", c->spool)};
	char *ledger = xasprintf("%s/ledger.db", c->state);
	char *daemon_mem = xasprintf("/proc/%d/mem", (int)getppid());
	char *inside = xasprintf("%s/.sandbox-probe", outdir);
	int s;

	for (size_t i = 0; i < c->ntargets; i++) {
		if (c->targets[i].token_file)
			probe_open("read_secret", c->targets[i].token_file, O_RDONLY);
		if (c->targets[i].password_file)
			probe_open("read_secret", c->targets[i].password_file, O_RDONLY);
	}
	probe_open("read_config", c->path, O_RDONLY);
	probe_open("read_ledger", ledger, O_RDONLY);
	probe_open("read_daemon_memory", daemon_mem, O_RDONLY);
	probe_connect(port);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	probe_result("socket_unix", "AF_UNIX", s, errno);
	if (s >= 0)
		close(s);
	for (size_t i = 0; i < sizeof(outside) / sizeof(*outside); i++)
		probe_open("write_outside", outside[i], O_WRONLY | O_CREAT | O_EXCL);
	probe_exec();
	/* the controls: what the parser must still do */
	probe_open("read_input", input, O_RDONLY);
	probe_open("write_out", inside, O_WRONLY | O_CREAT | O_EXCL);
	for (size_t i = 0; i < sizeof(outside) / sizeof(*outside); i++)
		free(outside[i]);
	free(ledger);
	free(daemon_mem);
	free(inside);
}
