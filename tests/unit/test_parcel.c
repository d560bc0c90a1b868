#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "parse/parcel.h"
#include "testutil.h"

static const char csv1[] = "sku,source_code,quantity,status\nAB-1,default,4,1\nAB-2,default,5,1\n";
static const struct batch_origin lines1[] = {{2, 1}, {7, 2}};
/* the rows' lines: the header is 32 bytes, each row 17 */
static const struct batch_sum sums1[] = {{11, 21, 32, 17}, {12, 22, 49, 17}};

static void put_one(const char *name)
{
	struct batch b = {1, csv1, sizeof(csv1) - 1, 2, lines1, sums1};

	assert_int_equal(parcel_put_batch(test_dir, name, &b, 1), 0);
}

static void test_what_check_writes_the_daemon_reads_back(void **state)
{
	struct parcel p = {.dir = test_dir, .name = "parts.zip"};
	struct strlist members = STRLIST_INIT;
	struct batch_origin *origin = NULL;
	struct buf csv = BUF_INIT(BUF_NOCAP), err = BUF_INIT(1024);
	size_t rows = 0;
	char line[64];

	(void)state;
	put_one("parts.zip");
	strlist_push(&members, "part1.csv");
	strlist_push(&members, "odd\nname.csv"); /* a name may hold a newline */
	assert_int_equal(parcel_put_members(test_dir, "parts.zip", &members), 0);
	assert_int_equal(parcel_read_batch(&p, 1, &csv, &origin, &rows, &err), 0);
	assert_int_equal(rows, 2);
	assert_int_equal(csv.len, sizeof(csv1) - 1);
	assert_memory_equal(csv.data, csv1, csv.len);
	assert_int_equal(origin[1].line, 7);
	parcel_load_members(&p);
	assert_int_equal(p.members.n, 2);
	assert_string_equal(p.members.v[1], "odd\nname.csv");
	parcel_line(&p, origin[0].member, origin[0].line, line, sizeof(line));
	assert_string_equal(line, "part1.csv:2");
	parcel_line(&p, 0, 12, line, sizeof(line));
	assert_string_equal(line, "12");
	parcel_line(&p, 9, 12, line, sizeof(line)); /* a member the parcel does not have */
	assert_string_equal(line, "12");
	/* a batch not there */
	assert_int_equal(parcel_read_batch(&p, 2, &csv, &origin, &rows, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "parts.zip.batch-0002.csv"));
	free(origin);
	parcel_release(&p);
	strlist_clear(&members);
	buf_release(&csv);
	buf_release(&err);
}

static void test_links_and_damaged_indices_are_refused(void **state)
{
	struct parcel p = {.dir = test_dir, .name = "f.csv"};
	struct batch_origin *origin = NULL;
	struct buf csv = BUF_INIT(BUF_NOCAP), err = BUF_INIT(1024);
	size_t rows = 0;
	char *batch, *lines, secret[128];
	FILE *fp;

	(void)state;
	put_one("f.csv");
	batch = parcel_batch_path(test_dir, "f.csv", 1);
	lines = parcel_lines_path(test_dir, "f.csv", 1);
	/* an index cut short (a power loss before it was fsync'd) */
	assert_int_equal(truncate(lines, 5), 0);
	assert_int_equal(parcel_read_batch(&p, 1, &csv, &origin, &rows, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "damaged"));
	buf_reset(&err);
	/* a batch planted as a link to a secret: neither followed nor read */
	snprintf(secret, sizeof(secret), "%s/token", test_dir);
	fp = fopen(secret, "w");
	fputs("s3cr3t", fp);
	fclose(fp);
	put_one("f.csv");
	unlink(batch);
	assert_int_equal(symlink(secret, batch), 0);
	assert_int_equal(parcel_read_batch(&p, 1, &csv, &origin, &rows, &err), -1);
	assert_null(strstr(csv.data ? csv.data : "", "s3cr3t"));
	unlink(batch);
	assert_int_equal(link(secret, batch), 0);
	buf_reset(&err);
	assert_int_equal(parcel_read_batch(&p, 1, &csv, &origin, &rows, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), strerror(EPERM)));
	free(batch);
	free(lines);
	free(origin);
	buf_release(&csv);
	buf_release(&err);
}

static void test_batches_above_keep_are_removed(void **state)
{
	struct batch b = {1, csv1, sizeof(csv1) - 1, 2, lines1, sums1};
	char *path;

	(void)state;
	for (unsigned seq = 1; seq <= 3; seq++) {
		b.seq = seq;
		assert_int_equal(parcel_put_batch(test_dir, "x*[.csv", &b, 1), 0);
	}
	parcel_remove_batches(test_dir, "x*[.csv", 1);
	path = parcel_batch_path(test_dir, "x*[.csv", 1);
	assert_int_equal(access(path, F_OK), 0);
	free(path);
	path = parcel_lines_path(test_dir, "x*[.csv", 3);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	path = parcel_sums_path(test_dir, "x*[.csv", 3);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	path = parcel_sums_path(test_dir, "x*[.csv", 1);
	assert_int_equal(access(path, F_OK), 0);
	free(path);
	parcel_remove_batches(test_dir, "x*[.csv", 0);
	path = parcel_batch_path(test_dir, "x*[.csv", 1);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
}

/* put_sums: sums of batch 1 of "s.csv" as a parser child could write them */
static void put_sums(const struct batch_sum *s, size_t n)
{
	char *path = parcel_sums_path(test_dir, "s.csv", 1);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(s, sizeof(*s), n, f), n);
	fclose(f);
	free(path);
}

static void test_sums_are_read_back_only_when_they_fit_the_batch(void **state)
{
	struct parcel p = {.dir = test_dir, .name = "s.csv"};
	struct batch_origin *origin = NULL;
	struct batch_sum *sum = NULL;
	struct buf csv = BUF_INIT(BUF_NOCAP), err = BUF_INIT(1024);
	size_t rows = 0;
	/* each a child's lie the sift would otherwise read past its batch with */
	static const struct batch_sum gap[] = {{1, 1, 32, 16}, {2, 2, 49, 17}};
	static const struct batch_sum past_end[] = {{1, 1, 32, 17}, {2, 2, 49, 4000000000u}};
	static const struct batch_sum far[] = {{1, 1, 4000000000u, 17}, {2, 2, 49, 17}};
	static const struct batch_sum in_header[] = {{1, 1, 0, 32}, {2, 2, 32, 34}};
	static const struct batch_sum short_end[] = {{1, 1, 32, 17}, {2, 2, 49, 10}};

	(void)state;
	put_one("s.csv");
	assert_int_equal(parcel_read_batch(&p, 1, &csv, &origin, &rows, &err), 0);
	assert_int_equal(parcel_read_sums(&p, 1, &csv, rows, &sum, &err), 0);
	assert_true(sum[1].khash == 12 && sum[1].digest == 22);
	assert_memory_equal(csv.data + sum[1].at, "AB-2,default,5,1\n", sum[1].len);
	put_sums(sums1, 1); /* a whole number of sums, not the batch's rows */
	assert_int_equal(parcel_read_sums(&p, 1, &csv, rows, &sum, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "damaged"));
	put_sums(gap, 2);
	assert_int_equal(parcel_read_sums(&p, 1, &csv, rows, &sum, &err), -1);
	put_sums(past_end, 2);
	assert_int_equal(parcel_read_sums(&p, 1, &csv, rows, &sum, &err), -1);
	put_sums(far, 2);
	assert_int_equal(parcel_read_sums(&p, 1, &csv, rows, &sum, &err), -1);
	put_sums(in_header, 2);
	assert_int_equal(parcel_read_sums(&p, 1, &csv, rows, &sum, &err), -1);
	put_sums(short_end, 2);
	buf_reset(&err);
	assert_int_equal(parcel_read_sums(&p, 1, &csv, rows, &sum, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "do not fit their batch"));
	free(sum);
	free(origin);
	buf_release(&csv);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_what_check_writes_the_daemon_reads_back,
					    tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_links_and_damaged_indices_are_refused,
					    tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_batches_above_keep_are_removed, tmpdir_setup,
					    tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(test_sums_are_read_back_only_when_they_fit_the_batch,
					    tmpdir_setup, tmpdir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
