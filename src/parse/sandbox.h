/*
 * sandbox - the parser child: how the daemon starts it, and the cage it
 * enters before it reads the first partner byte.
 *
 * The daemon never parses a partner's file itself. parser_child_prepare and
 * parser_child_exec run `dropgate check --sandbox=LAYERS` with no fd but
 * stdin/stdout (/dev/null), stderr (the log) and a snapshot of the running
 * configuration on fd 3 (its text and the bytes of its lookup tables): the
 * child opens neither, so it parses with what the daemon runs, not with what
 * is on disk. The child loads what else the feed needs from disk (the XSD and
 * what it includes, the time zone), then sandbox_enter, then the file. Inside, whatever an exploit of libxml2,
 * libarchive or iconv could do:
 *
 *  - no_new_privs: nothing gains privileges through exec or a setuid bit;
 *  - a user and network namespace of its own (where unprivileged user
 *    namespaces are allowed): no network interface but a loopback that is down;
 *  - Landlock: read only the input file(s) and glibc's gconv modules (read and
 *    map: iconv loads them lazily, for encodings an XML file may declare);
 *    read, create, write and remove only under the out dir; nothing else, so
 *    no token_file, password_file, ledger or spool (TCP connect and bind
 *    refused too from Landlock ABI 4, signals and abstract sockets outside the
 *    child from ABI 6);
 *  - seccomp: socket, socketpair, connect, bind, listen, accept, execve,
 *    execveat, io_uring, ptrace, process_vm_*, bpf, mount, namespaces,
 *    keyrings, the tty's TIOCSTI and the like fail with EPERM (a sanitizer
 *    build keeps ptrace and /proc for LeakSanitizer).
 *
 * A layer this kernel or service does not offer is skipped: sandbox_daemon_start
 * says once, at the daemon's start, which are on and which are missing and
 * why. A layer the daemon found available and the child cannot enter is an
 * error: the child exits 2 without reading the file. sandbox_enter never
 * widens what the process could do before; it only takes away.
 */
#ifndef DG_SANDBOX_H
#define DG_SANDBOX_H

#include <stddef.h>

#include "util/buf.h"

struct conf;
struct feed;

enum sandbox_layer {
	SANDBOX_NO_NEW_PRIVS = 1 << 0,
	SANDBOX_NETNS = 1 << 1, /* user + network namespace */
	SANDBOX_LANDLOCK = 1 << 2,
	SANDBOX_SECCOMP = 1 << 3,
};

#define SANDBOX_CONF_FD 3 /* where the parser child finds the configuration snapshot */

/* sandbox_available: the layers this process could enter (probed once; forks once). */
unsigned sandbox_available(void);
/*
 * sandbox_daemon_start: at the daemon's start, before its threads: one log
 * line with the layers on and the missing; and the daemon made non-dumpable,
 * so that no process of its uid (a child where Landlock is missing) can read
 * its memory through /proc or ptrace.
 */
void sandbox_daemon_start(void);

/* What the parser child is started with, all made before fork (the child only execs). */
struct parser_child {
	char *argv[16];
	char layers[32]; /* --sandbox=N */
	char conffd[32]; /* --conf-fd=3 */
	int conf_fd;	 /* a memfd holding the configuration snapshot, -1 when none */
};

/* parser_child_prepare: 0, or -1 with the reason in err (nothing to release then). */
int parser_child_prepare(struct parser_child *pc, const char *self, const struct conf *c,
			 const struct feed *f, const char *file, const char *outdir,
			 struct buf *err);
/* parser_child_exec: in the forked child: the fds set, exec. Async-signal-safe; never returns. */
void parser_child_exec(const struct parser_child *pc, int null_fd) __attribute__((noreturn));
void parser_child_release(struct parser_child *pc);

/*
 * sandbox_enter: in the parser child, after the feed's own files are loaded:
 * the layers in `layers` (a set of enum sandbox_layer), reading only the
 * files inputs[0..ninputs-1], writing only under outdir. 0, or -1 with the
 * layer that failed and why in err.
 */
int sandbox_enter(unsigned layers, const struct feed *f, char *const *inputs, size_t ninputs,
		  const char *outdir, struct buf *err);

/*
 * sandbox_probe: for the tests only (the child runs it when
 * DROPGATE_SANDBOX_PROBE=PORT is set): from inside the sandbox, try to read
 * every token_file and password_file of c, the configuration, the ledger and
 * the daemon's memory,
 * open a socket, connect to 127.0.0.1:PORT, create a file beside outdir, in
 * the state dir and in the spool, and exec /bin/true; and, as controls, read
 * input and write in outdir. One log line each, event=sandbox_probe, result=allowed|denied.
 */
void sandbox_probe(const struct conf *c, const char *input, const char *outdir, const char *port);

#endif
