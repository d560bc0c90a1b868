#include "config.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ops/alert.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MAX_RUNNING 32

extern char **environ;

static pid_t running[MAX_RUNNING];
static char *running_event[MAX_RUNNING];

/* keep: a variable of the daemon's environment the program inherits (not systemd's own) */
static int keep(const char *v)
{
	return strncmp(v, "NOTIFY_SOCKET=", 14) != 0 && strncmp(v, "WATCHDOG_", 9) != 0 &&
	       strncmp(v, "DROPGATE_", 9) != 0;
}

int alert_run(const char *program, const struct alert_facts *f)
{
	char since[32] = "", id[32] = "";
	char *argv[] = {(char *)program, NULL};
	char **env;
	size_t n = 0, k = 0;
	struct tm tm;
	struct logline l;
	pid_t pid;
	int rc, slot = -1;

	for (int i = 0; i < MAX_RUNNING; i++)
		if (running[i] == 0) {
			slot = i;
			break;
		}
	if (f->since) {
		gmtime_r(&f->since, &tm);
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	if (f->file_id)
		snprintf(id, sizeof(id), "%lld", f->file_id);
	while (environ[n])
		n++;
	env = xcalloc(n + 8, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (keep(environ[i]))
			env[k++] = environ[i];
	env[k++] = xasprintf("DROPGATE_EVENT=%s", f->event);
	env[k++] = xasprintf("DROPGATE_PARTNER=%s", f->partner ? f->partner : "");
	env[k++] = xasprintf("DROPGATE_FEED=%s", f->feed ? f->feed : "");
	env[k++] = xasprintf("DROPGATE_FILE=%s", f->file ? f->file : "");
	env[k++] = xasprintf("DROPGATE_FILE_ID=%s", id);
	env[k++] = xasprintf("DROPGATE_SINCE=%s", since);
	env[k++] = xasprintf("DROPGATE_MESSAGE=%s", f->message ? f->message : "");
	rc = slot < 0 ? EAGAIN : posix_spawn(&pid, program, NULL, NULL, argv, env);
	log_begin(&l, rc ? LOG_ERROR : LOG_INFO, "alert");
	log_kv(&l, "alert_event", f->event);
	log_kv(&l, "partner", f->partner);
	log_kv(&l, "feed", f->feed);
	if (f->file)
		log_kv(&l, "file", f->file);
	log_kv(&l, "since", since);
	log_kv(&l, "program", program);
	if (rc)
		log_kvf(&l, "reason", "cannot run it: %s",
			slot < 0 ? "too many alert programs still running" : strerror(rc));
	log_kv(&l, "msg", f->message);
	log_end(&l);
	for (size_t i = k - 7; i < k; i++) /* the seven made above */
		free(env[i]);
	free(env);
	if (rc)
		return -1;
	running[slot] = pid;
	running_event[slot] = xstrdup(f->event);
	return 0;
}

void alert_reap(void)
{
	for (int i = 0; i < MAX_RUNNING; i++) {
		int status;

		if (running[i] == 0 || waitpid(running[i], &status, WNOHANG) != running[i])
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_simple(LOG_ERROR, "alert_failed", "the alert program for '%s' %s %d",
				   running_event[i],
				   WIFEXITED(status) ? "exited with status"
						     : "was killed by signal",
				   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		free(running_event[i]);
		running[i] = 0;
	}
}
