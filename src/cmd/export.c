/*
 * dropgate export [-c FILE] NAME [--date YYYY-MM-DD]: one run of the export
 * NAME now, as its schedule would run it (export/run.h), and what it wrote.
 * Exit: 0; 4 when Commerce failed (the watermark stays); 2 for a --date that
 * is no day.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "export/run.h"
#include "lib/conf.h"
#include "util/buf.h"

static const struct command_option export_options[] = {
    {"date", 'd', required_argument},
    {NULL, 0, 0},
};

static int export_name(struct command_ctx *cx);

const struct command_args export_args = {
    .usage = "usage: dropgate export [-c FILE] NAME [--date YYYY-MM-DD]\n"
	     "Run the export NAME now, as its schedule would (a BI export for\n"
	     "the given UTC day, default yesterday).\n"
	     "Exit: 0, 4 when Commerce failed (the watermark stays).\n",
    .options = export_options,
    .operands = export_name,
};

/* export_name: one NAME, an [export NAME] of the configuration */
static int export_name(struct command_ctx *cx)
{
	if (cx->argc != 1)
		return command_usage_error(cx);
	if (conf_export(cx->conf, cx->argv[0]) == NULL) {
		fprintf(stderr, "dropgate export: %s has no [export %s]\n", cx->conf->path,
			cx->argv[0]);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_export(struct command_ctx *cx)
{
	const struct export *e = conf_export(cx->conf, cx->argv[0]);
	const char *date = command_opt(cx, "date"), *day = NULL;
	struct buf err = BUF_INIT(4096);
	struct export_outcome out;
	char yesterday[11];
	time_t now = time(NULL), y = now - 86400;
	struct tm tm;
	int status = 0;

	/* BI: the day asked, default yesterday; an orders export has no day */
	strftime(yesterday, sizeof(yesterday), "%Y-%m-%d", gmtime_r(&y, &tm));
	if (e->kind == EXPORT_BI)
		day = date ? date : yesterday;
	commerce_global_init();
	if (export_run(cx->conf, e, cx->ledger, now, day, NULL, &out, &err) < 0) {
		fprintf(stderr, "dropgate export %s: %s\n", e->name, buf_cstr(&err));
		status =
		    day && strlen(day) != 10 ? EXIT_USAGE : EXIT_COMMERCE; /* not a day at all */
	} else if (e->kind == EXPORT_STOCK) {
		if (out.stock.file[0])
			printf("%s: %lu keys\n", out.stock.file, out.stock.keys);
		else
			printf("the picture of %s is unchanged since the last copy: no file "
			       "written\n",
			       e->sequence);
	} else if (day) {
		printf("%s/%s/%s/%s: %lu rows\n", cx->conf->spool, e->partners.v[0], e->dir, day,
		       out.rows);
	} else if (out.orders.file[0]) {
		printf("%s: %lu orders, %lu items, %lu pages\n", out.orders.file, out.orders.orders,
		       out.orders.items, out.orders.pages);
	} else {
		printf("nothing new since the last run: no file written\n");
	}
	buf_release(&err);
	return status;
}
