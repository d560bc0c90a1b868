/*
 * fuzz_conf - the configuration file: our line reader, inih, every key's
 * parser, the checks across sections, the mappings it compiles.
 *
 * Input: the INI text, written to a file in a directory of its own (which
 * also holds a lookup table, countries.csv). A text naming lookup() with a
 * '/' is skipped: it would read any file of the machine.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/conf.h"
#include "lib/loadconf.h"
#include "util/buf.h"

static char dir[] = "/tmp/dropgate-fuzz-conf-XXXXXX";
static char path[sizeof(dir) + 32];
static int conf_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char table[] = "deutschland,DE\nschweiz,CH\n";
	char lookup[sizeof(dir) + 32];
	FILE *fp;

	(void)argc, (void)argv;
	fuzz_quiet();
	fuzz_dir(dir);
	snprintf(lookup, sizeof(lookup), "%s/countries.csv", dir);
	fp = fopen(lookup, "w");
	if (fp == NULL || fwrite(table, 1, sizeof(table) - 1, fp) != sizeof(table) - 1 || fclose(fp))
		abort();
	snprintf(path, sizeof(path), "%s/dropgate.conf", dir);
	conf_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (conf_fd < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c;

	if (memchr(data, '/', size) && memmem(data, size, "lookup", 6))
		return 0;
	if (ftruncate(conf_fd, 0) < 0 || pwrite(conf_fd, data, size, 0) != (ssize_t)size)
		abort();
	c = conf_load(path, &err);
	if (c == NULL && err.len == 0)
		abort(); /* refused without saying why */
	if (c) {
		for (size_t i = 0; i < c->nfeeds; i++)
			if (conf_feed(c, c->feeds[i].name) == NULL)
				abort();
		for (size_t i = 0; i < c->ntargets; i++)
			if (conf_target(c, c->targets[i].name) == NULL)
				abort();
		conf_free(c);
	}
	buf_release(&err);
	return 0;
}
