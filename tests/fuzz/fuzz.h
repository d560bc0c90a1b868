/*
 * fuzz - what the libFuzzer targets of tests/fuzz share.
 *
 * An input usually starts with a byte or two of options (encoding, delimiter,
 * HTTP status...) taken with fuzz_take; the rest is the bytes under test.
 * Functions that read a path get the input through fuzz_file, a memfd named
 * /proc/self/fd/N, so no file is left behind. Log lines go to /dev/null, after
 * being formatted like the daemon's.
 */
#ifndef DG_FUZZ_H
#define DG_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <csv.h>
#include <ftw.h>

#include "lib/batch.h"
#include "util/io.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* fuzz_take: the next byte, 0 once the input is used up. */
static inline unsigned fuzz_take(struct fuzz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* fuzz_quiet: log lines are made (the escaping runs) and thrown away. */
static inline void fuzz_quiet(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		abort();
	log_set_fd(fd);
	log_set_level(LOG_DEBUG);
}

static const char *fuzz_dir_made;

static inline int fuzz_remove(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(path);
}

static inline void fuzz_dir_remove(void)
{
	nftw(fuzz_dir_made, fuzz_remove, 8, FTW_DEPTH | FTW_PHYS);
}

/* fuzz_dir: mkdtemp(templ), removed with what it holds when the fuzzer exits. */
static inline void fuzz_dir(char *templ)
{
	if (mkdtemp(templ) == NULL)
		abort();
	fuzz_dir_made = templ;
	atexit(fuzz_dir_remove);
}

/* fuzz_file: n bytes as a file; path gets /proc/self/fd/N. The fd, to close. */
static inline int fuzz_file(const void *p, size_t n, char path[64])
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0 || write_all(fd, p, n) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

/* fuzz_utf8: is p[0..n) valid UTF-8 (no overlong forms, surrogates or > U+10FFFF)? */
static inline int fuzz_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned c = p[i], need, min, cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		if (n - i <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

struct fuzz_csv_count {
	size_t rows, fields, header_fields;
	int ragged;
};

static inline void fuzz_count_field(void *s, size_t len, void *ctx)
{
	(void)s, (void)len;
	((struct fuzz_csv_count *)ctx)->fields++;
}

static inline void fuzz_count_row(int c, void *ctx)
{
	struct fuzz_csv_count *k = ctx;
	size_t fields = k->fields ? k->fields : 1; /* an empty line is one empty field */

	(void)c;
	if (k->rows == 0)
		k->header_fields = fields;
	else if (fields != k->header_fields)
		k->ragged = 1;
	k->rows++;
	k->fields = 0;
}

/*
 * fuzz_check_batch: what goes to Commerce is UTF-8 CSV (RFC 4180, LF ends)
 * holding the header and exactly b->rows rows, each as wide as the header.
 */
static inline void fuzz_check_batch(const struct batch *b)
{
	struct fuzz_csv_count k = { 0, 0, 0, 0 };
	struct csv_parser p;

	if (!fuzz_utf8(b->csv, b->len))
		abort();
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0)
		abort();
	if (csv_parse(&p, b->csv, b->len, fuzz_count_field, fuzz_count_row, &k) != b->len ||
	    csv_fini(&p, fuzz_count_field, fuzz_count_row, &k) != 0)
		abort();
	csv_free(&p);
	if (k.ragged || k.rows != b->rows + 1)
		abort();
}

#endif
