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

/* A fresh directory for a test (cmocka setup/teardown), removed with its files. */
static char test_dir[64];

static inline int tmpdir_setup(void **state)
{
	(void)state;
	strcpy(test_dir, "/tmp/dropgate-test-dir.XXXXXX");
	return mkdtemp(test_dir) ? 0 : -1;
}

static inline int tmpdir_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", test_dir);
	return system(cmd);
}

#endif
