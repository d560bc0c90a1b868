/*
 * commands - the dropgate program's commands, one function each.
 *
 * Each takes the arguments after its name (argv[0] is the command name) and
 * returns the process exit status the contract gives it.
 */
#ifndef DG_COMMANDS_H
#define DG_COMMANDS_H

#define EXIT_USAGE 2 /* usage, configuration or I/O error */
#define EXIT_COMMERCE 4 /* Commerce unreachable, or refused a batch as a whole */
/* the daemon's parser child only (check --sandbox): its input could not be read or its output
   written, a fault of the disk and not of the file; `check` itself says 2 (the contract's) */
#define EXIT_IO 5

struct conf;
struct feed;

int cmd_check(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_redrop(int argc, char **argv);
int cmd_partner(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* What check and submit share: -c, --feed, --out, --help, then files. */
struct command_setup {
	struct conf *conf;
	const struct feed *feed;
	const char *outdir;
	int first_file; /* argv index of the first FILE */
	int origins;    /* --origins: keep each batch's partner lines (for the daemon) */
	/* for the daemon's parser child (parse/sandbox.h), not told in the usage: */
	int conf_fd;    /* --conf-fd=N: a configuration snapshot on N (conf.h); -1: the file */
	int sandbox;    /* --sandbox=LAYERS: enter them before the first file; -1: none */
	int status;     /* the exit status when command_setup did not return 0 */
};

/*
 * command_setup: parse the options, load the configuration, find the feed,
 * check DIR. 0, or non-zero with cs->status set (usage printed, errors told).
 * one_file: exactly one FILE.
 */
int command_setup(struct command_setup *cs, int argc, char **argv, const char *name,
		  const char *usage, int one_file);
void command_teardown(struct command_setup *cs);

/* config_path: -c/--config, else $DROPGATE_CONFIG, else the default. */
const char *config_path(const char *given);

#endif
