#include "config.h"

#include "lib/batch.h"
#include "testutil.h"

struct flushed {
	struct buf text;
	int count;
	unsigned lines[64];
	size_t nlines;
};

static int on_flush(void *ctx, const struct batch *b)
{
	struct flushed *f = ctx;

	f->count++;
	buf_printf(&f->text, "#%u rows=%zu\n", b->seq, b->rows);
	buf_add(&f->text, b->csv, b->len);
	for (size_t i = 0; i < b->rows; i++)
		f->lines[f->nlines++] = b->origin[i].line;
	return 0;
}

static void add(struct batch_writer *w, const char *a, const char *b, unsigned line)
{
	struct strview v[2] = { sv_from(a), sv_from(b) };
	struct batch_origin o = { line, 0 };

	assert_int_equal(batch_add(w, v, 2, o), 0);
}

static void test_quoting_follows_rfc4180(void **state)
{
	struct buf b = BUF_INIT(BUF_NOCAP);

	(void)state;
	csv_append_field(&b, "plain", 5);
	buf_addch(&b, '|');
	csv_append_field(&b, "a,b", 3);
	buf_addch(&b, '|');
	csv_append_field(&b, "3/4\" pipe", 9);
	buf_addch(&b, '|');
	csv_append_field(&b, "two\nlines", 9);
	buf_addch(&b, '|');
	csv_append_field(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "plain|\"a,b\"|\"3/4\"\" pipe\"|\"two\nlines\"|");
	buf_release(&b);
}

static void test_batches_split_by_rows_with_header_and_origins(void **state)
{
	struct flushed f = { BUF_INIT(BUF_NOCAP), 0, { 0 }, 0 };
	struct batch_writer w;
	struct strview h[2] = { sv_from("sku"), sv_from("qty") };

	(void)state;
	batch_writer_init(&w, 2, 1 << 20, on_flush, &f);
	batch_set_header(&w, h, 2);
	add(&w, "A", "1", 2);
	add(&w, "B", "2", 4);
	add(&w, "C", "3", 5);
	assert_int_equal(f.count, 1);
	assert_int_equal(batch_finish(&w), 0);
	assert_int_equal(batch_finish(&w), 0); /* nothing left: no empty batch */
	assert_string_equal(buf_cstr(&f.text), "#1 rows=2\nsku,qty\nA,1\nB,2\n#2 rows=1\nsku,qty\nC,3\n");
	assert_int_equal(f.nlines, 3);
	assert_int_equal(f.lines[0], 2);
	assert_int_equal(f.lines[1], 4);
	assert_int_equal(f.lines[2], 5);
	batch_writer_release(&w);
	buf_release(&f.text);
}

static void test_batches_split_by_bytes(void **state)
{
	struct flushed f = { BUF_INIT(BUF_NOCAP), 0, { 0 }, 0 };
	struct batch_writer w;
	struct strview h[2] = { sv_from("sku"), sv_from("qty") };
	struct strview big[2] = { sv_from("0123456789012345678901234567890123456789"), sv_from("1") };
	struct batch_origin o = { 9, 0 };

	(void)state;
	/* header 8 bytes + rows of 6: 20 bytes hold two rows */
	batch_writer_init(&w, 100, 20, on_flush, &f);
	batch_set_header(&w, h, 2);
	add(&w, "AAA", "1", 2);
	add(&w, "BBB", "2", 3);
	add(&w, "CCC", "3", 4);
	assert_int_equal(batch_add(&w, big, 2, o), -1); /* never fits */
	batch_finish(&w);
	assert_int_equal(f.count, 2);
	assert_string_equal(buf_cstr(&f.text),
			    "#1 rows=2\nsku,qty\nAAA,1\nBBB,2\n#2 rows=1\nsku,qty\nCCC,3\n");
	batch_writer_release(&w);
	buf_release(&f.text);
}

struct summed {
	struct buf lines; /* each row's line, found by its sum, then "khash digest" */
	int count;
};

static int on_summed(void *ctx, const struct batch *b)
{
	struct summed *f = ctx;

	f->count++;
	assert_non_null(b->sum);
	for (size_t i = 0; i < b->rows; i++) {
		buf_add(&f->lines, b->csv + b->sum[i].at, b->sum[i].len);
		buf_printf(&f->lines, "%llu %llu\n", (unsigned long long)b->sum[i].khash,
			   (unsigned long long)b->sum[i].digest);
	}
	/* the rows' lines are back to back from the header to the batch's end */
	assert_int_equal(b->sum[b->rows - 1].at + b->sum[b->rows - 1].len, b->len);
	return 0;
}

static void test_sums_find_each_rows_line_across_carried_rows(void **state)
{
	struct summed f = { BUF_INIT(BUF_NOCAP), 0 };
	struct batch_writer w;
	struct strview h[2] = { sv_from("sku"), sv_from("qty") };
	struct strview v[2] = { sv_from("a,b"), sv_from("1") };
	struct batch_origin o = { 2, 0 };

	(void)state;
	/* header 8 bytes: "a,b" quoted makes a 8-byte row, "CC,2" a 5-byte line: two to a batch */
	batch_writer_init(&w, 100, 24, on_summed, &f);
	batch_keep_sums(&w);
	batch_set_header(&w, h, 2);
	assert_int_equal(batch_stage(&w, v, 2, o), 0);
	batch_sum_staged(&w, 7, 70);
	assert_int_equal(batch_commit(&w), 0);
	assert_int_equal(batch_stage_line(&w, "CC,2\n", 5, o), 0); /* as the sift sends one */
	batch_sum_staged(&w, 8, 80);
	assert_int_equal(batch_commit(&w), 0);
	assert_int_equal(batch_stage_line(&w, "DDDDD,3\n", 8, o), 0); /* carried to batch 2 */
	batch_sum_staged(&w, 9, 90);
	assert_int_equal(batch_commit(&w), 0);
	assert_int_equal(batch_stage_line(&w, "0123456789012345678901234\n", 26, o), -1);
	assert_int_equal(batch_finish(&w), 0);
	assert_int_equal(f.count, 2);
	assert_string_equal(buf_cstr(&f.lines), "\"a,b\",1\n7 70\nCC,2\n8 80\nDDDDD,3\n9 90\n");
	batch_writer_release(&w);
	buf_release(&f.lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting_follows_rfc4180),
		cmocka_unit_test(test_batches_split_by_rows_with_header_and_origins),
		cmocka_unit_test(test_batches_split_by_bytes),
		cmocka_unit_test(test_sums_find_each_rows_line_across_carried_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
