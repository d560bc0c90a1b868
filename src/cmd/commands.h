/*
 * commands - the dropgate program's commands, a file each in src/cmd/, and
 * what they share.
 *
 * src/dropgate.c holds the table: a command's name, its function, what it
 * needs (enum command_needs) and its arguments (struct command_args, in the
 * command's own file). command_run() does for every command, once and in this
 * order, what its row asks: the options (-c FILE and --help for all, the feed
 * options, the command's own), --feed and FILE given, the configuration, the
 * feed and --out DIR, the state directory's owner, the operands, the ledger,
 * the file an ID names. Then the command's function finds them in struct
 * command_ctx and returns the process exit status its contract gives; what
 * command_run made it releases. A usage error prints the command's usage on
 * stderr; --help prints it on stdout (exit 0); every other refusal is told
 * on stderr as "dropgate NAME: ..." (exit EXIT_USAGE).
 */
#ifndef DG_COMMANDS_H
#define DG_COMMANDS_H

#include <time.h>

#include "queue/ledger.h" /* struct ledger_file */

#define EXIT_USAGE 2	/* usage, configuration or I/O error */
#define EXIT_COMMERCE 4 /* Commerce unreachable, or refused a batch as a whole */
/* the daemon's parser child only (check --sandbox): its input could not be read or its output
   written, a fault of the disk and not of the file; `check` itself says 2 (the contract's) */
#define EXIT_IO 5

struct conf;
struct feed;
struct command_ctx;

/* NEEDS_FEED, the ledger, NEEDS_FILE and AS_STATE_OWNER load the configuration too */
enum command_needs {
	NEEDS_CONF = 1 << 0,	 /* the configuration (-c FILE, $DROPGATE_CONFIG, the default) */
	NEEDS_FEED = 1 << 1,	 /* --feed NAME of it, --out DIR (default .), one FILE or more */
	ONE_FILE = 1 << 2,	 /* with NEEDS_FEED: exactly one FILE */
	NEEDS_LEDGER = 1 << 3,	 /* the ledger, which `dropgate run` made */
	MAKES_LEDGER = 1 << 4,	 /* the ledger, made with the state directory when missing */
	NEEDS_FILE = 1 << 5,	 /* one operand, an ID naming a file of the ledger (opens it) */
	AS_STATE_OWNER = 1 << 6, /* run by root: become the state directory's owner first */
};

/* an option of a command beyond -c FILE, --help and the feed's */
struct command_option {
	const char *name; /* --name */
	char letter;	  /* -letter too, or 0 */
	int has_arg;	  /* no_argument or required_argument (getopt.h) */
};

#define COMMAND_MAX_OPTIONS 8

struct command_args {
	const char *usage; /* the --help text; a usage error prints it on stderr */
	const char *verb;  /* a word that must come first ("partner add"), or NULL */
	const struct command_option *options; /* ended by { NULL }; NULL: none */
	/* operands: check cx->argv once the configuration is loaded, before the ledger;
	   0, or the exit status with the refusal told; NULL: operands are not looked at */
	int (*operands)(struct command_ctx *cx);
};

struct command {
	const char *name;
	int (*fn)(struct command_ctx *cx);
	unsigned needs;			 /* enum command_needs */
	const struct command_args *args; /* NULL: fn takes the arguments as they come */
	const char *summary;		 /* its line in `dropgate help` */
};

struct command_ctx {
	const struct command *cmd;
	const char *name;     /* the command's, for messages */
	const char *confpath; /* -c FILE, else $DROPGATE_CONFIG, else the default */
	int argc;	      /* the operands, options taken out (args NULL: all arguments) */
	char **argv;
	const char *given[COMMAND_MAX_OPTIONS]; /* args->options[i]'s argument, "" for a flag,
						   NULL when not given: see command_opt */
	/* NEEDS_FEED */
	const char *feedname;
	const char *outdir;
	int origins; /* --origins: keep each batch's partner lines (for the daemon) */
	/* for the daemon's parser child (parse/sandbox.h), not told in the usage: */
	int conf_fd; /* --conf-fd=N: a configuration snapshot on N (conf.h); -1: the file */
	int sandbox; /* --sandbox=LAYERS: enter them before the first file; -1: none */
	/* what the command needs, made by command_run and released after fn */
	struct conf *conf;
	const struct feed *feed;
	struct ledger *ledger;
	long long id; /* NEEDS_FILE */
	struct ledger_file file;
};

int cmd_check(struct command_ctx *cx);
int cmd_submit(struct command_ctx *cx);
int cmd_run(struct command_ctx *cx);
int cmd_status(struct command_ctx *cx);
int cmd_show(struct command_ctx *cx);
int cmd_redrop(struct command_ctx *cx);
int cmd_partner(struct command_ctx *cx);
int cmd_export(struct command_ctx *cx);
int cmd_baseline(struct command_ctx *cx);
extern const struct command_args check_args, submit_args, run_args, status_args, show_args,
    redrop_args, partner_args, export_args;
extern const struct command_args baseline_args;

/*
 * command_run: prepare what cmd's row asks, call its function, release what
 * was made. argv[0] is the command's name. The exit status.
 */
int command_run(const struct command *cmd, int argc, char **argv);

/* command_opt: the argument of cx's option --name, "" for a flag, NULL when not given. */
const char *command_opt(const struct command_ctx *cx, const char *name);
/* command_usage_error: the usage on stderr; EXIT_USAGE. */
int command_usage_error(const struct command_ctx *cx);
/* command_no_operands: struct command_args' operands for a command that takes none. */
int command_no_operands(struct command_ctx *cx);

/* config_path: -c/--config, else $DROPGATE_CONFIG, else the default. */
const char *config_path(const char *given);

/*
 * print_safe: printf for the operator's terminal. Names, messages and answers
 * come from partners and Commerce: their control characters (C0, DEL, C1) are
 * shown as \xNN / \u00NN, never sent to the terminal to run.
 */
void print_safe(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* iso_or_dash: t as 2026-11-27T06:00:00Z, "-" for 0 (never). */
void iso_or_dash(time_t t, char out[32]);

#endif
