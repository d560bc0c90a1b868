/*
 * dropgate - the program: a table of commands, each in its own file.
 */
#include "config.h"

#include <archive.h>
#include <getopt.h>
#include <sys/stat.h>
#include <csv.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cmd/commands.h"
#include "lib/conf.h"
#include "lib/loadconf.h"
#include "util/buf.h"
#include "util/log.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "check", cmd_check, "check --feed NAME [--out DIR] FILE...   validate and transform offline" },
	{ "run", cmd_run, "run                                     the daemon: watch the spool, import, report" },
	{ "status", cmd_status, "status [--json] [--watch]               files in flight, recent results, deferred" },
	{ "show", cmd_show, "show ID                                 one file's whole history" },
	{ "redrop", cmd_redrop, "redrop ID [--force]                     queue a failed (or finished) file again" },
	{ "partner", cmd_partner, "partner add NAME [--user USER]          create a partner's spool tree" },
	{ "export", cmd_export, "export NAME                             run one export now" },
	{ "submit", cmd_submit, "submit --feed NAME [--out DIR] FILE      check, then send to Commerce" },
	{ "version", cmd_version, "version                                 versions of dropgate and its libraries" },
	{ "help", cmd_help, "help                                    this list" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: dropgate [-c FILE] COMMAND [ARGS]\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %s\n", c->usage);
	fprintf(out, "\nEvery command takes -c FILE / --config FILE (default $DROPGATE_CONFIG, "
		     "then /etc/dropgate/dropgate.conf) and --help.\n");
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	usage(stdout);
	return 0;
}

const char *config_path(const char *given)
{
	const char *env = getenv("DROPGATE_CONFIG");

	if (given)
		return given;
	if (env && *env)
		return env;
	return "/etc/dropgate/dropgate.conf";
}

int command_setup(struct command_setup *cs, int argc, char **argv, const char *name,
		  const char *usage, int one_file)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "feed", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },    { "help", no_argument, NULL, 'h' },
		{ "origins", no_argument, NULL, 'O' },
		/* the daemon's parser child: the configuration snapshot on an fd, and its sandbox */
		{ "conf-fd", required_argument, NULL, 'F' },  { "sandbox", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *confpath = NULL, *feedname = NULL;
	struct buf err = BUF_INIT(64 * 1024);
	struct stat st;
	int opt;

	memset(cs, 0, sizeof(*cs));
	cs->outdir = ".";
	cs->conf_fd = -1;
	cs->sandbox = -1;
	cs->status = EXIT_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:f:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': confpath = optarg; break;
		case 'f': feedname = optarg; break;
		case 'o': cs->outdir = optarg; break;
		case 'O': cs->origins = 1; break;
		case 'F': cs->conf_fd = atoi(optarg); break;
		case 'S': cs->sandbox = atoi(optarg); break;
		case 'h': fputs(usage, stdout); cs->status = 0; return 1;
		default: fputs(usage, stderr); return 1;
		}
	}
	if (feedname == NULL || optind >= argc || (one_file && optind + 1 != argc)) {
		fputs(usage, stderr);
		return 1;
	}
	cs->first_file = optind;
	if (cs->conf_fd >= 0) {
		cs->conf = conf_load_snapshot(cs->conf_fd, &err);
		close(cs->conf_fd);
	} else {
		cs->conf = conf_load(config_path(confpath), &err);
	}
	if (cs->conf == NULL) {
		fputs(buf_cstr(&err), stderr);
		buf_release(&err);
		return 1;
	}
	buf_release(&err);
	log_set_level((enum log_level)cs->conf->log_level);
	cs->feed = conf_feed(cs->conf, feedname);
	if (cs->feed == NULL) {
		fprintf(stderr, "dropgate %s: %s has no [feed %s]\n", name, cs->conf->path, feedname);
	} else if (stat(cs->outdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "dropgate %s: --out %s: not a directory\n", name, cs->outdir);
	} else {
		return 0;
	}
	command_teardown(cs);
	return 1;
}

void command_teardown(struct command_setup *cs)
{
	conf_free(cs->conf);
	cs->conf = NULL;
}

int cmd_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("dropgate %s\n", PACKAGE_VERSION);
	printf("libarchive %s\n", archive_version_details());
	printf("libcsv %d.%d.%d\n", CSV_MAJOR, CSV_MINOR, CSV_RELEASE);
	printf("libxml2 %s\n", LIBXML_DOTTED_VERSION);
	printf("libcurl %s\n", curl_version());
	printf("zlib %s\n", zlibVersion());
	printf("sqlite %s\n", sqlite3_libversion());
	printf("jansson %s\n", jansson_version_str());
	printf("inih %s\n", INIH_VERSION);
	printf("openssl %s\n", OpenSSL_version(OPENSSL_VERSION));
	return 0;
}

int main(int argc, char **argv)
{
	char **args = argv + 1;
	int n = argc - 1;
	const char *conf = NULL;

	/* -c FILE may also come before the command */
	while (n >= 2 && (strcmp(args[0], "-c") == 0 || strcmp(args[0], "--config") == 0)) {
		conf = args[1];
		args += 2;
		n -= 2;
	}
	if (n < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(args[0], "--help") == 0 || strcmp(args[0], "-h") == 0)
		return cmd_help(0, NULL);
	if (strcmp(args[0], "--version") == 0)
		return cmd_version(0, NULL);
	if (conf)
		setenv("DROPGATE_CONFIG", conf, 1);
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, args[0]) == 0)
			return c->fn(n, args);
	fprintf(stderr, "dropgate: unknown command '%s'\n\n", args[0]);
	usage(stderr);
	return EXIT_USAGE;
}
