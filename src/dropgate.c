/*
 * dropgate - the program: the table of commands (each in its own file in
 * src/cmd/) and main(), which finds the command and hands it to command_run.
 */
#include "config.h"

#include <archive.h>
#include <csv.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cmd/commands.h"

static int cmd_help(struct command_ctx *cx);
static int cmd_version(struct command_ctx *cx);

/*
 * The commands: name, function, what it needs (cmd/commands.h: command_run
 * prepares it, once, for all of them), its arguments (usage, options,
 * operands: in the command's file), its line in `dropgate help`.
 */
static const struct command commands[] = {
	{ "check", cmd_check, NEEDS_CONF | NEEDS_FEED, &check_args,
	  "check --feed NAME [--out DIR] FILE...   validate and transform offline" },
	{ "run", cmd_run, 0, &run_args,
	  "run                                     the daemon: watch the spool, import, report" },
	{ "status", cmd_status, NEEDS_CONF | NEEDS_LEDGER, &status_args,
	  "status [--json] [--watch]               files in flight, recent results, deferred" },
	{ "show", cmd_show, NEEDS_CONF | NEEDS_LEDGER | NEEDS_FILE, &show_args,
	  "show ID                                 one file's whole history" },
	{ "redrop", cmd_redrop, NEEDS_CONF | AS_STATE_OWNER | NEEDS_LEDGER | NEEDS_FILE,
	  &redrop_args,
	  "redrop ID [--force]                     queue a failed (or finished) file again" },
	{ "partner", cmd_partner, NEEDS_CONF, &partner_args,
	  "partner add NAME [--user USER]          create a partner's spool tree" },
	{ "export", cmd_export, NEEDS_CONF | AS_STATE_OWNER | MAKES_LEDGER, &export_args,
	  "export NAME                             run one export now" },
	{ "baseline", cmd_baseline, NEEDS_CONF | AS_STATE_OWNER | MAKES_LEDGER, &baseline_args,
	  "baseline PARTNER SEQUENCE [--target T]  fill the key store from Commerce" },
	{ "submit", cmd_submit, NEEDS_CONF | NEEDS_FEED | ONE_FILE, &submit_args,
	  "submit --feed NAME [--out DIR] FILE      check, then send to Commerce" },
	{ "version", cmd_version, 0, NULL,
	  "version                                 versions of dropgate and its libraries" },
	{ "help", cmd_help, 0, NULL,
	  "help                                    this list" },
	{ NULL, NULL, 0, NULL, NULL },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: dropgate [-c FILE] COMMAND [ARGS]\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %s\n", c->summary);
	fprintf(out, "\nEvery command takes -c FILE / --config FILE (default $DROPGATE_CONFIG, "
		     "then /etc/dropgate/dropgate.conf) and --help.\n");
}

static int cmd_help(struct command_ctx *cx)
{
	(void)cx;
	usage(stdout);
	return 0;
}

static int cmd_version(struct command_ctx *cx)
{
	(void)cx;
	printf("dropgate %s\n", PACKAGE_VERSION);
	printf("libarchive %s\n", archive_version_details());
	printf("libcsv %d.%d.%d\n", CSV_MAJOR, CSV_MINOR, CSV_RELEASE);
	printf("libxml2 %s\n", LIBXML_DOTTED_VERSION);
	printf("libcurl %s\n", curl_version());
	printf("zlib %s\n", zlibVersion());
	printf("sqlite %s\n", sqlite3_libversion());
	printf("libpq %d.%d\n", PQlibVersion() / 10000, PQlibVersion() % 10000);
	printf("jansson %s\n", jansson_version_str());
	printf("inih %s\n", INIH_VERSION);
	printf("openssl %s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("libmicrohttpd %s\n", MHD_get_version());
	printf("libsystemd %s\n", LIBSYSTEMD_VERSION);
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
		return cmd_help(NULL);
	if (strcmp(args[0], "--version") == 0)
		return cmd_version(NULL);
	if (conf)
		setenv("DROPGATE_CONFIG", conf, 1);
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, args[0]) == 0)
			return command_run(c, n, args);
	fprintf(stderr, "dropgate: unknown command '%s'\n\n", args[0]);
	usage(stderr);
	return EXIT_USAGE;
}
