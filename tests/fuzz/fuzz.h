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

/* fuzz_file: n bytes as a file; path gets /proc/self/fd/N. The fd, to close. */
static inline int fuzz_file(const void *p, size_t n, char path[64])
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0 || write_all(fd, p, n) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
