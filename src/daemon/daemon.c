/*
 * daemon - dropgate run: the main loop and the daemon's life.
 *
 * Threads: the main thread watches the spool and claims what has arrived
 * (arrive/), dispatches files to up to `workers` worker threads (workers.c)
 * that take each from where the ledger says it is to its end (job.c), and
 * prunes the archive (retention/); an exporter thread runs the exports on
 * their schedules. SIGTERM/SIGINT stop within seconds, parking the files in
 * hand; SIGHUP reloads the configuration (a bad one keeps the old one). A
 * ledger write or an fsync that fails stops the daemon: it never records a
 * state it could not make durable, and a restart resumes from the ledger.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arrive/scan.h"
#include "claim/claim.h"
#include "cmd/commands.h"
#include "commerce/client.h"
#include "daemon/daemon.h"
#include "daemon/job.h"
#include "daemon/lease.h"
#include "daemon/timers.h"
#include "daemon/workers.h"
#include "export/bi.h"
#include "export/orders.h"
#include "export/run.h"
#include "lib/conf.h"
#include "lib/loadconf.h"
#include "ops/counters.h"
#include "ops/ops.h"
#include "parse/sandbox.h"
#include "queue/keys.h"
#include "queue/ledger.h"
#include "queue/nodes.h"
#include "queue/notes.h"
#include "queue/spool.h"
#include "retention/retention.h"
#include "util/log.h"
#include "util/xalloc.h"

#define TICK_MS 500
#define STOP_GRACE_S 15 /* a stop waits this long for the threads, then exits anyway */

struct daemon {
	char *confpath;
	struct conf *conf;
	struct conf **retired; /* earlier configurations, kept for workers that hold them */
	size_t nretired;
	pthread_mutex_t conf_lock;
	struct ledger *ledger;
	char self[PATH_MAX];
	struct arrivals in;   /* watching and claiming: the main thread's */
	struct timers timers; /* the main loop's deadlines: rescan, prune */
	struct workers work;
	struct ops ops; /* metrics, late feeds and alerts, systemd's notifications */
	struct lease lease; /* this node's lease on what it holds (queue/nodes.h) */
};

static volatile sig_atomic_t stop_flag, reload_flag, stop_signals;
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP) {
		reload_flag = 1;
	} else {
		stop_flag = 1;
		stop_signals++;
	}
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], "x", 1) < 0) {
		/* the pipe is full: the loop wakes anyway */
	}
	errno = saved;
}

static int stopping(void *ctx)
{
	(void)ctx;
	return stop_flag != 0;
}

static int stop_asked(void)
{
	return stop_flag != 0;
}

static struct conf *current_conf(struct daemon *d)
{
	struct conf *c;

	pthread_mutex_lock(&d->conf_lock);
	c = d->conf;
	pthread_mutex_unlock(&d->conf_lock);
	return c;
}

static void reload(struct daemon *d)
{
	struct buf err = BUF_INIT(64 * 1024);
	struct conf *c = conf_load(d->confpath, &err);

	if (c == NULL) {
		struct logline l;
		log_begin(&l, LOG_ERROR, "reload_refused");
		log_kv(&l, "config", d->confpath);
		log_kv(&l, "reason", buf_cstr(&err));
		log_kv(&l, "msg", "the running configuration stays");
		log_end(&l);
		buf_release(&err);
		return;
	}
	pthread_mutex_lock(&d->conf_lock);
	d->retired = xreallocarray(d->retired, d->nretired + 1, sizeof(*d->retired));
	d->retired[d->nretired++] = d->conf;
	d->conf = c;
	pthread_mutex_unlock(&d->conf_lock);
	log_set_level((enum log_level)c->log_level);
	log_set_syslog(c->log_syslog, "dropgate");
	d->in.w.need_rescan = 1;
	log_simple(LOG_INFO, "reloaded", "%s", d->confpath);
	buf_release(&err);
}

/*
 * exporter_main: the exports on their schedules, in a thread of their own so
 * that a slow Commerce never holds up the spool. A failed run is retried at
 * the next tick's schedule; the watermark has not moved.
 */
static void *exporter_main(void *arg)
{
	struct daemon *d = arg;

	while (!stop_flag) {
		const struct conf *c = current_conf(d);
		time_t now = time(NULL);

		for (size_t i = 0; i < c->nexports && !stop_flag; i++) {
			struct export_outcome outcome;
			struct buf err = BUF_INIT(4096);

			if (export_due(d->ledger, &c->exports[i], now) &&
			    !ledger_failed(d->ledger)) {
				/* one node runs it: the others find the lock held, or, once it
				   is let go, the run recorded and the export no longer due */
				char *lock = xasprintf("export:%s", c->exports[i].name);
				if (ledger_lock_try(d->ledger, lock) == 1) {
					if (export_due(d->ledger, &c->exports[i], now)) {
						int rc = export_run(c, &c->exports[i], d->ledger, now,
								    NULL, &stop_flag, &outcome,
								    &err);
						counters_export(c->exports[i].name, rc == 0,
								c->exports[i].kind == EXPORT_BI
								    ? outcome.rows
								    : outcome.orders.orders,
								now);
					}
					ledger_lock_release(d->ledger, lock);
				}
				free(lock);
			}
			buf_release(&err);
		}
		for (int k = 0; k < 10 && !stop_flag; k++)
			usleep(100000);
	}
	return NULL;
}

/* joined: has thread t ended by deadline? */
/* the main loop's timers (timers.h): a full rescan, the safety net; pruning the archive */
static long long rescan_period(void *ctx)
{
	return (long long)current_conf(ctx)->rescan * 1000;
}

static void ask_rescan(void *ctx)
{
	((struct daemon *)ctx)->in.w.need_rescan = 1;
}

static long long prune_period(void *ctx)
{
	(void)ctx;
	return 3600 * 1000;
}

static void prune_archive(void *ctx)
{
	retention_prune(current_conf(ctx));
}

static long long idle_period(void *ctx)
{
	(void)ctx;
	return 5 * 1000;
}

/* ledger_upkeep: the WAL checkpointed; with no file in hand, a key store's recent
   rows folded in before a night's file would have to (keys.h) */
static void ledger_upkeep(void *ctx)
{
	struct daemon *d = ctx;

	ledger_idle(d->ledger);
	if (workers_idle(&d->work))
		keys_fold_idle(d->ledger);
}

/* run_file: a worker's file, with the configuration running when it starts (workers.h) */
static void run_file(void *ctx, long long id)
{
	struct daemon *d = ctx;

	job_run(d->ledger, d->self, current_conf(d), stop_asked, id);
}

/* wake_main: a file ended: the main loop dispatches the next of its partner and feed */
static void wake_main(void *ctx)
{
	(void)ctx;
	if (write(sig_pipe[1], "w", 1) < 0) {
		/* the main loop wakes on its tick anyway */
	}
}

static int joined(pthread_t t, const struct timespec *deadline)
{
	return pthread_timedjoin_np(t, NULL, deadline) == 0;
}

/*
 * join_or_exit: the threads end, or the process does. A stop must finish
 * whatever failed: a thread stuck on a locked ledger or a silent Commerce
 * holds it STOP_GRACE_S at most, and another SIGTERM or SIGINT not at all.
 * Exiting then is as safe as kill -9, which the ledger and spool survive.
 */
static void join_or_exit(struct daemon *d, pthread_t exporter, int rc)
{
	sig_atomic_t asked = stop_signals;
	time_t end = time(NULL) + STOP_GRACE_S;
	size_t done = 0;

	while (done <= d->work.nthreads) {
		struct timespec step;
		pthread_t t = done < d->work.nthreads ? d->work.threads[done] : exporter;

		clock_gettime(CLOCK_REALTIME, &step);
		step.tv_nsec += 100 * 1000000L;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		if (joined(t, &step)) {
			done++;
			continue;
		}
		if (stop_signals != asked || time(NULL) >= end) {
			log_simple(
			    LOG_ERROR, "stop_forced",
			    "%s: exiting with threads still busy; files in hand resume at the "
			    "next start",
			    stop_signals != asked ? "asked again to stop"
						  : "the stop took too long");
			_exit(rc ? rc : 1);
		}
	}
}

/* state_dirs: work/, archive/, failed/ under the state directory, and the spool. */
static int state_dirs(const struct conf *c, struct buf *err)
{
	static const char *const dirs[] = {"work", "archive", "failed"};

	for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
		char *dir = xasprintf("%s/%s", c->state, dirs[k]);
		int rc = mkdirs(dir, 0750, err);
		free(dir);
		if (rc < 0)
			return -1;
	}
	return mkdirs(c->spool, 0755, err);
}

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* daemon_open: the configuration, the state directories, the ledger, inotify. 0 or -1 (told). */
static int daemon_open(struct daemon *d, const char *confpath, struct buf *err)
{
	char *ledger_path;

	memset(d, 0, sizeof(*d));
	d->in.w.inotify_fd = -1;
	d->confpath = realpath(confpath, NULL);
	if (d->confpath == NULL) {
		fprintf(stderr, "dropgate run: %s: %s\n", confpath, strerror(errno));
		return -1;
	}
	d->conf = conf_load(d->confpath, err);
	if (d->conf == NULL) {
		fputs(buf_cstr(err), stderr);
		fprintf(stderr, "dropgate run: the configuration has errors: not starting\n");
		return -1;
	}
	log_set_level((enum log_level)d->conf->log_level);
	log_set_syslog(d->conf->log_syslog, "dropgate");
	if (readlink("/proc/self/exe", d->self, sizeof(d->self) - 1) < 0) {
		fprintf(stderr, "dropgate run: cannot find its own program: %s\n", strerror(errno));
		return -1;
	}
	sandbox_daemon_start(); /* before the threads: it forks to try a namespace */
	if (state_dirs(d->conf, err) < 0) {
		fprintf(stderr, "dropgate run: %s\n", buf_cstr(err));
		return -1;
	}
	ledger_path = ledger_location(d->conf->ledger, d->conf->state);
	d->ledger = ledger_open(ledger_path, err);
	free(ledger_path);
	if (d->ledger == NULL) {
		fprintf(stderr, "dropgate run: %s\n", buf_cstr(err));
		return -1;
	}
	d->in.ledger = d->ledger;
	d->in.stop = stop_asked;
	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0 || watch_open(&d->in.w) < 0) {
		fprintf(stderr, "dropgate run: %s\n", strerror(errno));
		return -1;
	}
	pthread_mutex_init(&d->conf_lock, NULL);
	return 0;
}

/* daemon_close: what daemon_open and the run set up (the threads are joined). */
static void daemon_close(struct daemon *d)
{
	ledger_close(d->ledger);
	watch_close(&d->in.w);
	for (size_t i = 0; i < d->nretired; i++)
		conf_free(d->retired[i]);
	free(d->retired);
	conf_free(d->conf);
	free(d->confpath);
	workers_release(&d->work);
}

/*
 * ledger_away: the ledger's server is away (restarted, the network cut): claim
 * nothing, dispatch nothing; once no worker has a file in hand, connect again
 * and go on where the ledger says (a lease that lapsed meanwhile: a new epoch,
 * and what the node held is taken again like any other node's). 1 while away.
 */
static int ledger_away(struct daemon *d)
{
	static time_t last_try;

	if (!ledger_lost(d->ledger))
		return 0;
	if (!workers_idle(&d->work) || time(NULL) == last_try)
		return 1;
	last_try = time(NULL);
	if (ledger_reconnect(d->ledger) < 0)
		return 1;
	ledger_node_renew(d->ledger);
	d->in.w.need_rescan = 1;
	return 0;
}

/* failure_stops: a failed fsync or ledger write ends the run (rc 1), said once. */
static int failure_stops(const struct daemon *d)
{
	const char *why = durable_failed() ? "an fsync failed: what is on disk is unknown, so the "
					     "daemon stops rather than retrying it"
			  : ledger_failed(d->ledger) && !ledger_lost(d->ledger)
			      ? "the ledger cannot be written: stopping rather "
				"than losing track of files"
			      : NULL;

	if (why == NULL)
		return 0;
	log_simple(LOG_ERROR, "stopping", "%s", why);
	stop_flag = 1;
	return 1;
}

/* main_loop: timers, scans and dispatch until a stop; 1 when a failure stopped it. */
static int main_loop(struct daemon *d)
{
	timers_add(&d->timers, "rescan", timers_now_ms(), rescan_period, ask_rescan, d);
	timers_add(&d->timers, "prune", timers_now_ms(), prune_period, prune_archive, d);
	timers_add(&d->timers, "ledger", timers_now_ms(), idle_period, ledger_upkeep, d);
	while (!stop_flag) {
		struct pollfd pfd[2] = {{d->in.w.inotify_fd, POLLIN, 0}, {sig_pipe[0], POLLIN, 0}};
		const struct conf *c = current_conf(d);
		char drain[64];

		if (ledger_away(d))
			goto wait; /* nothing claimed or dispatched that could not be recorded */
		timers_run(&d->timers, timers_now_ms());
		/* a tick while files settle or claiming is paused: both are looked at again */
		if (watch_pending(&d->in.w) || d->in.paused[0]) {
			d->in.w.need_rescan = 0;
			scan_all(&d->in, c);
		}
		workers_dispatch(&d->work);
		if (failure_stops(d))
			return 1;
		ops_tick(&d->ops, c); /* the first says READY=1: recovered, scanned once */
	wait:
		if (poll(pfd, 2, timers_wait_ms(&d->timers, timers_now_ms(), TICK_MS)) > 0) {
			if (pfd[0].revents & POLLIN) {
				watch_read_events(&d->in.w);
				d->in.w.need_rescan = 1;
			}
			if (pfd[1].revents & POLLIN)
				while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
					;
		}
		if (reload_flag) {
			reload_flag = 0;
			ops_reloading(&d->ops);
			reload(d);
			ops_reloaded(&d->ops, current_conf(d));
		}
	}
	return 0;
}

int daemon_run(const char *confpath)
{
	struct daemon d;
	struct buf err = BUF_INIT(64 * 1024);
	pthread_t exporter;
	char pid[32];
	int rc;

	if (daemon_open(&d, confpath, &err) < 0) {
		daemon_close(&d); /* before any thread: what was set up so far */
		buf_release(&err);
		return EXIT_USAGE;
	}
	buf_release(&err);
	catch_signals();
	commerce_global_init();
	commerce_set_default_stop(stopping, NULL); /* an export on a silent Commerce stops too */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	ledger_note_set(d.ledger, note_daemon_pid(), pid);
	if (lease_start(&d.lease, d.ledger, d.conf, stop_asked) < 0) {
		daemon_close(&d);
		return 1;
	}
	retention_clean_work(d.ledger, d.conf);
	claim_clean_stages(d.ledger, d.conf);
	d.work = (struct workers){.ledger = d.ledger,
				  .nthreads = d.conf->workers,
				  .run = run_file,
				  .wake = wake_main,
				  .stop = stop_asked,
				  .ctx = &d};
	workers_start(&d.work);
	pthread_create(&exporter, NULL, exporter_main, &d);
	ops_start(&d.ops, d.conf, d.ledger, d.work.nthreads);
	log_simple(LOG_INFO, "started", "spool %s, state %s, %zu workers", d.conf->spool,
		   d.conf->state, d.work.nthreads);
	rc = main_loop(&d);
	ops_stopping(&d.ops);
	log_simple(LOG_INFO, "stopping", "finishing or parking the files in hand");
	workers_wake_all(&d.work);
	join_or_exit(&d, exporter, rc);
	lease_join(&d.lease);
	if (!ledger_failed(d.ledger)) { /* else it would wait on the lock that failed it */
		ledger_note_set(d.ledger, note_daemon_pid(), "");
		ledger_node_leave(d.ledger); /* what it parked: another node's at once */
	}
	ops_stop(&d.ops);
	log_simple(rc ? LOG_ERROR : LOG_INFO, "stopped",
		   rc ? "stopped after a failure" : "clean stop");
	daemon_close(&d);
	return rc;
}
