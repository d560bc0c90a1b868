/*
 * parser - a file parsed by `dropgate check` in a child process that holds
 * no secrets: exec'd (so it inherits no token and no memory of the daemon),
 * with rlimits on CPU, file size and memory, handed the running
 * configuration on an fd, caged by parse/sandbox.c before the first partner
 * byte. A parser that crashes fails its file, never the daemon.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "parse/parser.h"
#include "parse/sandbox.h"
#include "util/buf.h"
#include "util/log.h"

/* parser_hit_by_stop: a parser killed by SIGTERM or SIGINT was most likely hit by the stop sent
 * to the whole process group (systemctl stop, Ctrl-C): that parks the file, it does not fail it.
 * Our own copy of the signal may be a moment behind the child's death: wait for it briefly. */
static int parser_hit_by_stop(int status, int (*stop)(void))
{
	if (!WIFSIGNALED(status) || (WTERMSIG(status) != SIGTERM && WTERMSIG(status) != SIGINT))
		return 0;
	for (int i = 0; i < 50 && !stop(); i++)
		usleep(20000);
	return stop() != 0;
}

/* run_worker: the file parsed by `dropgate check` in a sandboxed child with no secrets. */
int parser_run(const char *self, const struct conf *c, const struct feed *f, const char *file,
	       const char *outdir, int (*stop)(void), int *stopped)
{
	struct parser_child pc;
	struct buf err = BUF_INIT(1024);
	struct rlimit cpu = {c->worker_cpu, c->worker_cpu + 5};
	struct rlimit fsize = {c->max_file_size * 4, c->max_file_size * 4};
	struct rlimit as = {c->worker_memory, c->worker_memory};
	int status = 0;
	struct pollfd pfd;
	pid_t pid;

	*stopped = 0;
	if (parser_child_prepare(&pc, self, c, f, file, outdir, &err) < 0) {
		log_simple(LOG_ERROR, "parser_failed", "%s", buf_cstr(&err));
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	pid = fork();
	if (pid < 0) {
		parser_child_release(&pc);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		setrlimit(RLIMIT_CPU, &cpu);
		setrlimit(RLIMIT_FSIZE, &fsize);
#ifndef DG_SANITIZERS
		/* AddressSanitizer cannot run under an address-space limit */
		setrlimit(RLIMIT_AS, &as);
#else
		(void)as;
#endif
		parser_child_exec(&pc, null);
	}
	parser_child_release(&pc);
	/* woken by the child's exit itself (a pidfd is readable then), by a stop within 20 ms */
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	pfd.events = POLLIN;
	for (;;) {
		struct rusage ru;
		pid_t w = wait4(pid, &status, WNOHANG, &ru);
		if (w == pid) {
			/* the child's own peak memory: the benchmark and an operator read it here */
			log_simple(LOG_INFO, "parser_exited",
				   "file %s max_rss_kb %ld user_ms %ld sys_ms %ld", file,
				   ru.ru_maxrss,
				   (long)(ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000),
				   (long)(ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000));
			break;
		}
		if (w < 0 && errno != EINTR)
			return -1;
		if (stop() && !*stopped) {
			kill(pid, SIGKILL);
			*stopped = 1;
		}
		if (pfd.fd < 0 || poll(&pfd, 1, 20) < 0)
			usleep(20000);
	}
	if (pfd.fd >= 0)
		close(pfd.fd);
	if (!*stopped)
		*stopped = parser_hit_by_stop(status, stop);
	return status;
}
