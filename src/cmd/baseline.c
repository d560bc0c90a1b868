/*
 * dropgate baseline [-c FILE] PARTNER SEQUENCE [--target T] [--page-size N]:
 * the key store of PARTNER's SEQUENCE for target T (default `default`) filled
 * from what Commerce holds now (export/baseline.h), so that even the first
 * snapshot sends only what differs. Exit: 0; 4 when Commerce failed (what
 * was read stays: a second run writes the same again); 2 for a partner,
 * sequence or target no feed has, or a ledger error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "export/baseline.h"
#include "lib/conf.h"
#include "util/buf.h"

#define BASELINE_PAGE 1000

static const struct command_option baseline_options[] = {
    {"target", 't', required_argument},
    {"page-size", 0, required_argument},
    {NULL, 0, 0},
};

static int baseline_operands(struct command_ctx *cx);

const struct command_args baseline_args = {
    .usage = "usage: dropgate baseline [-c FILE] PARTNER SEQUENCE [--target T] [--page-size N]\n"
	     "Fill the key store of PARTNER's SEQUENCE for target T (default: default)\n"
	     "from what Commerce holds now: stock_sources from the source items,\n"
	     "catalog_product from the catalog, N per request (default 1000).\n"
	     "Exit: 0, 4 when Commerce failed, 2 for what no feed has.\n",
    .options = baseline_options,
    .operands = baseline_operands,
};

static unsigned long page_size(const struct command_ctx *cx)
{
	const char *v = command_opt(cx, "page-size");
	char *end;
	unsigned long n;

	if (v == NULL)
		return BASELINE_PAGE;
	n = strtoul(v, &end, 10);
	return *v && *end == '\0' && n > 0 && n <= 100000 ? n : 0;
}

static int baseline_operands(struct command_ctx *cx)
{
	if (cx->argc != 2)
		return command_usage_error(cx);
	if (page_size(cx) == 0) {
		fprintf(stderr, "dropgate baseline: --page-size takes 1 to 100000\n");
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_baseline(struct command_ctx *cx)
{
	const char *partner = cx->argv[0], *sequence = cx->argv[1];
	const char *target = command_opt(cx, "target") ? command_opt(cx, "target") : "default";
	struct buf err = BUF_INIT(4096);
	struct baseline_result res;
	enum baseline_status st;
	int status = 0;

	commerce_global_init();
	st = baseline_fill(cx->conf, cx->ledger, partner, sequence, target, page_size(cx), &res,
			   &err);
	if (st == BASELINE_DONE) {
		print_safe("%s/%s/%s: %lu keys of %s from Commerce ([feed %s]'s columns), %lu "
			   "pages\n",
			   partner, sequence, target, res.keys, res.entity, res.feed, res.pages);
	} else {
		fprintf(stderr, "dropgate baseline: %s\n", buf_cstr(&err));
		if (st == BASELINE_COMMERCE && res.keys)
			fprintf(stderr,
				"dropgate baseline: %lu keys were written before; run it again\n",
				res.keys);
		status = st == BASELINE_COMMERCE ? EXIT_COMMERCE : EXIT_USAGE;
	}
	buf_release(&err);
	return status;
}
