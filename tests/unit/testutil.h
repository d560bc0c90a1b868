/* Helpers shared by the cmocka unit tests. */
#ifndef DG_TESTUTIL_H
#define DG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* tmpfile_with: a new temporary file holding len bytes; the caller unlinks and frees. */
static inline char *tmpfile_with(const char *text, size_t len)
{
	char *path = strdup("/tmp/dropgate-test.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

#define TMPFILE(s) tmpfile_with((s), strlen(s))

#endif
