#include "config.h"

#include <fcntl.h>

#include "testutil.h"
#include "util/filesnap.h"

/* fd_with: a temporary file holding len bytes, open for reading at 0. */
static int fd_with(const char *bytes, size_t len)
{
	char *path = tmpfile_with(bytes, len);
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	unlink(path);
	free(path);
	return fd;
}

static void test_round_trip_keeps_names_and_bytes(void **state)
{
	struct filesnap s = FILESNAP_INIT, back = FILESNAP_INIT;
	struct buf err = BUF_INIT(1024);
	char *path = tmpfile_with("", 0);
	int fd = open(path, O_RDWR);

	(void)state;
	filesnap_add(&s, "/etc/dropgate/dropgate.conf", "[feed f]\n", 9);
	filesnap_add(&s, "/etc/dropgate/t.csv", "a,\0b\n", 5); /* any bytes, a NUL too */
	filesnap_add(&s, "/etc/dropgate/empty.csv", "", 0);
	filesnap_add(&s, "/etc/dropgate/t.csv", "a,b\n", 4); /* the same name replaces */
	assert_int_equal(s.n, 3);
	assert_int_equal(filesnap_write(&s, fd), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(filesnap_read(&back, fd, 4096, &err), 0);
	assert_int_equal(back.n, 3);
	for (size_t i = 0; i < s.n; i++) {
		assert_string_equal(back.v[i].name, s.v[i].name);
		assert_int_equal(back.v[i].len, s.v[i].len);
		assert_memory_equal(back.v[i].data, s.v[i].data, s.v[i].len);
	}
	assert_string_equal(filesnap_find(&back, "/etc/dropgate/t.csv")->data, "a,b\n");
	assert_null(filesnap_find(&back, "/etc/dropgate/other.csv"));
	close(fd);
	unlink(path);
	free(path);
	filesnap_clear(&s);
	filesnap_clear(&back);
	buf_release(&err);
}

static void test_bad_streams_are_refused_whole(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *why;
	} cases[] = {
		{ "3 4\nabc123", 10, "cut short" },
		{ "3 4\nabc1234" "9 1\n", 15, "a header with nothing after it" },
		{ "3 4 abc1234", 11, "no newline after the lengths" },
		{ "0 4\n1234", 8, "an empty name" },
		{ "3 1\na\0cx", 8, "a NUL in a name" },
		{ "-1 4\nabc1234", 12, "a negative length" },
		{ "3 99999999999999999999\nabc", 26, "a length past the end" },
	};
	struct buf err = BUF_INIT(1024);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct filesnap s = FILESNAP_INIT;
		int fd = fd_with(cases[i].bytes, cases[i].len);
		buf_reset(&err);
		if (filesnap_read(&s, fd, 4096, &err) != -1 || s.n != 0)
			fail_msg("accepted: %s", cases[i].why);
		assert_non_null(strstr(buf_cstr(&err), "cut or malformed"));
		close(fd);
	}
	buf_release(&err);
}

static void test_over_the_cap_is_refused(void **state)
{
	struct filesnap s = FILESNAP_INIT;
	struct buf err = BUF_INIT(1024);
	int fd = fd_with("3 4\nabc1234", 11);

	(void)state;
	assert_int_equal(filesnap_read(&s, fd, 10, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "larger than 10 bytes"));
	close(fd);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_keeps_names_and_bytes),
		cmocka_unit_test(test_bad_streams_are_refused_whole),
		cmocka_unit_test(test_over_the_cap_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
