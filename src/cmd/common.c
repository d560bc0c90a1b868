/*
 * What every command shares: command_run's preparing of what a command's row
 * in src/dropgate.c asks (commands.h tells the order), and the terminal
 * printing of the operator commands.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "lib/conf.h"
#include "lib/loadconf.h"
#include "lib/report.h"
#include "queue/ledger.h"
#include "util/buf.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/xalloc.h"

/* getopt's values for the long-only options; a command's own are OPT_OWN + their index */
enum { OPT_ORIGINS = 256, OPT_CONF_FD, OPT_SANDBOX, OPT_OWN = 512 };

/* the feed commands' options: check's and submit's, and the daemon's parser child's */
static const struct option feed_options[] = {
    {"feed", required_argument, NULL, 'f'},
    {"out", required_argument, NULL, 'o'},
    {"origins", no_argument, NULL, OPT_ORIGINS},
    {"conf-fd", required_argument, NULL, OPT_CONF_FD},
    {"sandbox", required_argument, NULL, OPT_SANDBOX},
};

#define NFEED_OPTIONS (sizeof(feed_options) / sizeof(feed_options[0]))
#define CONF_NEEDED                                                                                \
	(NEEDS_CONF | NEEDS_FEED | NEEDS_LEDGER | MAKES_LEDGER | NEEDS_FILE | AS_STATE_OWNER)

const char *config_path(const char *given)
{
	const char *env = getenv("DROPGATE_CONFIG");

	if (given)
		return given;
	if (env && *env)
		return env;
	return "/etc/dropgate/dropgate.conf";
}

int command_usage_error(const struct command_ctx *cx)
{
	fputs(cx->cmd->args->usage, stderr);
	return EXIT_USAGE;
}

int command_no_operands(struct command_ctx *cx)
{
	return cx->argc == 0 ? 0 : command_usage_error(cx);
}

const char *command_opt(const struct command_ctx *cx, const char *name)
{
	const struct command_option *own = cx->cmd->args->options;

	for (size_t i = 0; own && own[i].name; i++)
		if (strcmp(own[i].name, name) == 0)
			return cx->given[i];
	return NULL;
}

/* option_tables: getopt's for cx's command: -c and --help, the feed's, the command's own. */
static void option_tables(const struct command_ctx *cx, struct option *longs, char *shorts)
{
	const struct command_option *own = cx->cmd->args->options;
	size_t n = 0;

	longs[n++] = (struct option){"config", required_argument, NULL, 'c'};
	longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
	strcpy(shorts, "c:h");
	if (cx->cmd->needs & NEEDS_FEED) {
		for (size_t i = 0; i < NFEED_OPTIONS; i++)
			longs[n++] = feed_options[i];
		strcat(shorts, "f:o:");
	}
	for (size_t i = 0; own && own[i].name; i++) {
		if (i >= COMMAND_MAX_OPTIONS)
			abort(); /* a row with more options than given[] holds */
		longs[n++] = (struct option){own[i].name, own[i].has_arg, NULL,
					     own[i].letter ? own[i].letter : OPT_OWN + (int)i};
		if (own[i].letter) {
			size_t len = strlen(shorts);
			shorts[len] = own[i].letter;
			strcpy(shorts + len + 1, own[i].has_arg ? ":" : "");
		}
	}
	longs[n] = (struct option){NULL, 0, NULL, 0};
}

/* take_option: what getopt found, into cx. 0, or -1: not one of the command's. */
static int take_option(struct command_ctx *cx, int opt, const char **confpath)
{
	const struct command_option *own = cx->cmd->args->options;
	int feed = (cx->cmd->needs & NEEDS_FEED) != 0;

	if (opt == 'c')
		*confpath = optarg;
	else if (feed && opt == 'f')
		cx->feedname = optarg;
	else if (feed && opt == 'o')
		cx->outdir = optarg;
	else if (feed && opt == OPT_ORIGINS)
		cx->origins = 1;
	else if (feed && opt == OPT_CONF_FD)
		cx->conf_fd = atoi(optarg);
	else if (feed && opt == OPT_SANDBOX)
		cx->sandbox = atoi(optarg);
	else {
		for (size_t i = 0; own && own[i].name; i++)
			if (opt == (own[i].letter ? own[i].letter : OPT_OWN + (int)i)) {
				cx->given[i] = optarg ? optarg : "";
				return 0;
			}
		return -1;
	}
	return 0;
}

/* parse_options: argv's options into cx, its operands left in cx->argv. 0, or -1 with *status. */
static int parse_options(struct command_ctx *cx, int argc, char **argv, int *status)
{
	struct option longs[2 + NFEED_OPTIONS + COMMAND_MAX_OPTIONS + 1];
	char shorts[8 + 2 * COMMAND_MAX_OPTIONS + 1];
	const char *confpath = NULL;
	int opt;

	option_tables(cx, longs, shorts);
	optind = 0; /* glibc: start afresh, even after a parse that stopped inside "-xy" */
	while ((opt = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (opt == 'h') {
			fputs(cx->cmd->args->usage, stdout);
			*status = 0;
			return -1;
		}
		if (opt == '?' || take_option(cx, opt, &confpath) < 0) {
			*status = command_usage_error(cx);
			return -1;
		}
	}
	cx->confpath = config_path(confpath);
	cx->argc = argc - optind;
	cx->argv = argv + optind;
	return 0;
}

/* take_verb: "partner add ...": the verb must come first; argv then starts at it. */
static int take_verb(struct command_ctx *cx, int *argc, char ***argv, int *status)
{
	const struct command_args *a = cx->cmd->args;

	if (*argc < 2 || strcmp((*argv)[1], a->verb) != 0) {
		int help = *argc > 1 && strcmp((*argv)[1], "--help") == 0;
		fputs(a->usage, help ? stdout : stderr);
		*status = help ? 0 : EXIT_USAGE;
		return -1;
	}
	(*argc)--;
	(*argv)++;
	return 0;
}

static int load_conf(struct command_ctx *cx)
{
	struct buf err = BUF_INIT(64 * 1024);

	if (cx->conf_fd >= 0) {
		cx->conf = conf_load_snapshot(cx->conf_fd, &err);
		close(cx->conf_fd);
	} else {
		cx->conf = conf_load(cx->confpath, &err);
	}
	if (cx->conf == NULL)
		fputs(buf_cstr(&err), stderr);
	buf_release(&err);
	if (cx->conf == NULL)
		return -1;
	log_set_level((enum log_level)cx->conf->log_level);
	/* the parser child keeps stderr (the daemon's): its seccomp allows no new socket */
	if (cx->sandbox < 0)
		log_set_syslog(cx->conf->log_syslog, "dropgate");
	return 0;
}

static int find_feed(struct command_ctx *cx)
{
	struct stat st;

	cx->feed = conf_feed(cx->conf, cx->feedname);
	if (cx->feed == NULL) {
		fprintf(stderr, "dropgate %s: %s has no [feed %s]\n", cx->name, cx->conf->path,
			cx->feedname);
		return -1;
	}
	if (stat(cx->outdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "dropgate %s: --out %s: not a directory\n", cx->name, cx->outdir);
		return -1;
	}
	return 0;
}

/* as_state_owner: a command that writes the state or the spool, run by root (sudo), becomes
 * the state directory's owner first: the daemon (User= in the unit) must own what it finds. */
static int as_state_owner(const struct command_ctx *cx)
{
	const struct conf *c = cx->conf;
	struct stat st;

	if (geteuid() != 0 || stat(c->state, &st) < 0 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0) {
		fprintf(stderr, "dropgate %s: cannot become %s's owner (uid %u): %s\n", cx->name,
			c->state, (unsigned)st.st_uid, strerror(errno));
		return -1;
	}
	return 0;
}

/* id_operand: NEEDS_FILE's one operand, a file's id. */
static int id_operand(struct command_ctx *cx)
{
	char *end;

	if (cx->argc != 1 || (cx->id = strtoll(cx->argv[0], &end, 10)) <= 0 || *end)
		return -1;
	return 0;
}

/* open_ledger: the state's ledger; MAKES_LEDGER makes it (and the state directory) first. */
static int open_ledger(struct command_ctx *cx)
{
	char *path = ledger_location(cx->conf->ledger, cx->conf->state);
	struct buf err = BUF_INIT(4096);

	if (cx->cmd->needs & MAKES_LEDGER) {
		if (mkdirs(cx->conf->state, 0750, &err) == 0)
			cx->ledger = ledger_open(path, &err);
		if (cx->ledger == NULL)
			fprintf(stderr, "dropgate %s: %s\n", cx->name, buf_cstr(&err));
	} else if (!ledger_is_file(path) || access(path, F_OK) == 0) {
		cx->ledger = ledger_open(path, &err);
		if (cx->ledger == NULL && err.len)
			fprintf(stderr, "dropgate: %s\n", buf_cstr(&err));
	} else {
		fprintf(stderr, "dropgate: no ledger at %s (has `dropgate run` started?)\n", path);
	}
	free(path);
	buf_release(&err);
	return cx->ledger ? 0 : -1;
}

/* prepare: what cx's row asks, in commands.h's order. 0, or -1 with *status (told). */
static int prepare(struct command_ctx *cx, int argc, char **argv, int *status)
{
	const struct command_args *a = cx->cmd->args;
	unsigned needs = cx->cmd->needs;

	if ((a->verb && take_verb(cx, &argc, &argv, status) < 0) ||
	    parse_options(cx, argc, argv, status) < 0)
		return -1;
	*status = EXIT_USAGE;
	if ((needs & NEEDS_FEED) &&
	    (cx->feedname == NULL || cx->argc < 1 || ((needs & ONE_FILE) && cx->argc != 1))) {
		command_usage_error(cx);
		return -1;
	}
	if (((needs & CONF_NEEDED) && load_conf(cx) < 0) ||
	    ((needs & NEEDS_FEED) && find_feed(cx) < 0) ||
	    ((needs & AS_STATE_OWNER) && as_state_owner(cx) < 0))
		return -1;
	if (a->operands && (*status = a->operands(cx)) != 0)
		return -1;
	*status = EXIT_USAGE;
	if ((needs & NEEDS_FILE) && id_operand(cx) < 0) {
		command_usage_error(cx);
		return -1;
	}
	if ((needs & (NEEDS_LEDGER | MAKES_LEDGER | NEEDS_FILE)) && open_ledger(cx) < 0)
		return -1;
	if ((needs & NEEDS_FILE) && ledger_get(cx->ledger, cx->id, &cx->file) < 0) {
		fprintf(stderr, "dropgate %s: no file %lld\n", cx->name, cx->id);
		return -1;
	}
	return 0;
}

int command_run(const struct command *cmd, int argc, char **argv)
{
	struct command_ctx cx;
	int status;

	memset(&cx, 0, sizeof(cx));
	cx.cmd = cmd;
	cx.name = cmd->name;
	cx.argc = argc;
	cx.argv = argv;
	cx.outdir = ".";
	cx.conf_fd = -1;
	cx.sandbox = -1;
	if (cmd->args == NULL)
		return cmd->fn(&cx);
	if (prepare(&cx, argc, argv, &status) == 0)
		status = cmd->fn(&cx);
	if (cx.ledger)
		ledger_close(cx.ledger);
	conf_free(cx.conf);
	return status;
}

void print_safe(const char *fmt, ...)
{
	struct buf b = BUF_INIT(BUF_NOCAP), shown = BUF_INIT(BUF_NOCAP);
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < b.len; i++) {
		unsigned char ch = (unsigned char)b.data[i];
		if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
			buf_printf(&shown, "\\x%02x", ch);
		else if (ch == 0xc2 && i + 1 < b.len && (unsigned char)b.data[i + 1] >= 0x80 &&
			 (unsigned char)b.data[i + 1] <= 0x9f)
			buf_printf(&shown, "\\u00%02x", (unsigned char)b.data[++i]);
		else
			buf_addch(&shown, (char)ch);
	}
	fwrite(shown.data, 1, shown.len, stdout);
	buf_release(&b);
	buf_release(&shown);
}

void iso_or_dash(time_t t, char out[32])
{
	if (t)
		iso_time(t, out);
	else
		snprintf(out, 32, "-");
}
