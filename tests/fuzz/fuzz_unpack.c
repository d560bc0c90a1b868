/*
 * fuzz_unpack - archives listed, checked and read: zip, tar, tar.gz, gz, one
 * level of nesting, the member globs and every cap. What is accepted must keep
 * the header's promises: members in name order, none absolute or with a ".."
 * component, no more than max_members, no more than max_inflated bytes read.
 *
 * Input: byte 0 = kind by name (bits 0-1: .zip, .tar, .tar.gz, .gz), nested
 * (bit 2), members "*.csv" or "*" (bit 3), few members (bit 4); the rest is
 * the archive. Caps are small (4 MiB inflated) so that a bomb costs little.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/unpack.h"
#include "util/buf.h"
#include "util/strlist.h"

static volatile size_t sink_bytes;
static char block[65536];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

/* unsafe_name: absolute, or with a ".." component. */
static int unsafe_name(const char *name)
{
	const char *s = name;

	if (*s == '/')
		return 1;
	while (s) {
		if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return 1;
		s = strchr(s, '/');
		if (s)
			s++;
	}
	return 0;
}

static void read_members(struct unpack *u, const struct unpack_limits *lim)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	unsigned long long total = 0;
	ssize_t n;

	if (unpack_count(u) == 0 || unpack_count(u) > lim->max_members)
		abort();
	for (size_t i = 0; i < unpack_count(u); i++) {
		if (unsafe_name(unpack_member(u, i)) ||
		    (i > 0 && strcmp(unpack_member(u, i - 1), unpack_member(u, i)) > 0))
			abort();
		sink_bytes += strlen(unpack_member(u, i));
		buf_reset(&err);
		if (unpack_begin(u, i, &err) < 0)
			break;
		while ((n = unpack_read(u, block, sizeof(block), &err)) > 0)
			total += (unsigned long long)n;
		if (total > lim->max_inflated)
			abort();
		if (n < 0)
			break;
	}
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[4] = { "f.zip", "f.tar", "f.tar.gz", "f.csv.gz" };
	struct fuzz_in in = { data, size };
	unsigned opt = fuzz_take(&in);
	struct strlist members = STRLIST_INIT;
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct unpack_limits lim;
	struct unpack *u;
	char path[64];
	int fd = fuzz_file(in.p, in.n, path);

	unpack_default_limits(&lim);
	lim.max_inflated = 4 * 1024 * 1024;
	lim.nested = (opt & 4) != 0;
	strlist_push(&members, opt & 8 ? "*.csv" : "*");
	if (opt & 16)
		lim.max_members = 3;
	u = unpack_open(path, names[opt & 3], unpack_kind_of(names[opt & 3]), &members, &lim, &err);
	if (u == NULL && err.len == 0)
		abort(); /* refused without saying why */
	if (u) {
		read_members(u, &lim);
		unpack_close(u);
	}
	close(fd);
	strlist_clear(&members);
	buf_release(&err);
	return 0;
}
