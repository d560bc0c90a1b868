/*
 * dropgate run [-c FILE]: the daemon (daemon/daemon.h), which loads the
 * configuration itself, and again on SIGHUP.
 */
#include "config.h"

#include "cmd/commands.h"
#include "daemon/daemon.h"

const struct command_args run_args = {
    .usage = "usage: dropgate run [-c FILE]\n"
	     "The daemon: watch the spool, process, submit, report, archive.\n"
	     "SIGTERM/SIGINT stop it cleanly, SIGHUP reloads the configuration.\n",
    .operands = command_no_operands,
};

int cmd_run(struct command_ctx *cx)
{
	return daemon_run(cx->confpath);
}
