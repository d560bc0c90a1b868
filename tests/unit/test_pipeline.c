#include "config.h"

#include "lib/conf.h"
#include "lib/loadconf.h"
#include "lib/pipeline.h"
#include "lib/rowsum.h"
#include "testutil.h"
#include "util/keyset.h"

struct sink {
	struct buf batches, problems, messages;
	unsigned long lines[64];
	size_t nlines;
	struct batch_sum sums[64];
	size_t nsums;
};

static int on_batch(void *ctx, const struct batch *b)
{
	struct sink *s = ctx;

	buf_printf(&s->batches, "#%u\n", b->seq);
	buf_add(&s->batches, b->csv, b->len);
	for (size_t i = 0; i < b->rows && s->nlines < 64; i++)
		s->lines[s->nlines++] = b->origin[i].line;
	for (size_t i = 0; b->sum && i < b->rows && s->nsums < 64; i++)
		s->sums[s->nsums++] = b->sum[i];
	return 0;
}

static void on_problem(void *ctx, const struct problem *p)
{
	struct sink *s = ctx;

	buf_printf(&s->problems, "%lu|%s|%.*s|%s\n", p->line, p->column, (int)p->value.len,
		   p->value.p, p->message);
}

static void on_message(void *ctx, const char *msg)
{
	struct sink *s = ctx;

	buf_printf(&s->messages, "%s\n", msg);
}

static struct conf *conf;
static int row_sums; /* run's lim.row_sums */

#define COMMERCE "[commerce]\nurl = https://shop.example.com\ntoken_file = /t\n"

static int setup(void **state)
{
	static const char ini[] =
		COMMERCE
		"[feed erp]\ndir = in\ndelimiter = semicolon\nencoding = windows-1252\n"
		"entity = stock_sources\nvalidation = skip-errors\nallowed_errors = 2\n"
		"map.source_code = \"default\"\nmap.sku = ItemNo | trim | upper\n"
		"map.quantity = Qty | number(\",\", \".\")\n"
		"map.status = Qty | number(\",\", \".\") | instock\n"
		"[feed plain]\ndir = in\nentity = stock_sources\n"
		"[feed skip]\ndir = in\nentity = stock_sources\nvalidation = skip-errors\n"
		"allowed_errors = 10\n"
		"[feed seq]\ndir = in/s\nentity = stock_sources\nvalidation = skip-errors\n"
		"allowed_errors = 10\nmode = full\nsequence = stock\ndiff = yes\n";
	char *path = TMPFILE(ini);
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	conf = conf_load(path, &err);
	unlink(path);
	free(path);
	if (conf == NULL)
		fprintf(stderr, "%s", buf_cstr(&err));
	buf_release(&err);
	return conf ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	conf_free(conf);
	return 0;
}

/* run: the whole text through feed `name` in blocks; the result, the sink filled. */
static struct pipeline_result run(const char *name, const char *text, size_t len, size_t block,
				  struct sink *s, size_t batch_rows)
{
	struct pipeline_limits lim;
	struct pipeline_sink sk = { on_batch, on_problem, on_message, s };
	struct pipeline_result res;
	struct pipeline *p;
	size_t off = 0;

	memset(s, 0, sizeof(*s));
	buf_init(&s->batches, BUF_NOCAP);
	buf_init(&s->problems, BUF_NOCAP);
	buf_init(&s->messages, BUF_NOCAP);
	pipeline_default_limits(&lim);
	lim.batch_rows = batch_rows;
	lim.row_sums = row_sums;
	p = pipeline_new(conf_feed(conf, name), &lim, &sk);
	pipeline_hint_size(p, len);
	while (off < len) {
		size_t n = len - off < block ? len - off : block;
		if (pipeline_write(p, text + off, n))
			break;
		off += n;
	}
	pipeline_finish(p, &res);
	pipeline_free(p);
	return res;
}

static void sink_release(struct sink *s)
{
	buf_release(&s->batches);
	buf_release(&s->problems);
	buf_release(&s->messages);
}

static void test_erp_file_maps_onto_stock_sources(void **state)
{
	static const char text[] = "ItemNo;Bezeichnung;Qty\r\n ab-1 ;D\xfc" "bel;1.234,500\r\n"
				   "ab-2;\"Mutter\r\nM4\";0,000\r\nab-3;x;3\r\n";
	struct sink s;
	struct pipeline_result r;

	(void)state;
	for (size_t block = 1; block <= 4096; block *= 8) {
		r = run("erp", text, sizeof(text) - 1, block, &s, 2);
		assert_int_equal(r.state, PIPE_VALID);
		assert_int_equal(r.rows, 3);
		assert_int_equal(r.rows_ok, 3);
		assert_int_equal(r.batches, 2);
		assert_string_equal(buf_cstr(&s.batches),
				    "#1\nsource_code,sku,quantity,status\ndefault,AB-1,1234.5,1\n"
				    "default,AB-2,0,0\n#2\nsource_code,sku,quantity,status\n"
				    "default,AB-3,3,1\n");
		/* the quoted field over two lines: the next row is on line 5 */
		assert_int_equal(s.nlines, 3);
		assert_int_equal(s.lines[0], 2);
		assert_int_equal(s.lines[1], 3);
		assert_int_equal(s.lines[2], 5);
		assert_string_equal(buf_cstr(&s.problems), "");
		sink_release(&s);
	}
}

static void test_rows_rejected_alone_until_allowed_errors(void **state)
{
	static const char two_bad[] = "ItemNo;Qty\nab-1;1\nab-1;2\nab-3;zwei\nab-4;4\n";
	static const char three_bad[] = "ItemNo;Qty\nab-1;1\nab-1;2\nab-3;zwei\n;4\nab-5;5\n";
	struct sink s;
	struct pipeline_result r;

	(void)state;
	r = run("erp", two_bad, sizeof(two_bad) - 1, 4096, &s, 100);
	assert_int_equal(r.state, PIPE_PARTIAL);
	assert_int_equal(r.rows, 4);
	assert_int_equal(r.rows_ok, 2);
	assert_int_equal(r.rows_rejected, 2);
	assert_string_equal(buf_cstr(&s.problems),
			    "3|ItemNo|ab-1|duplicate of line 2 (same source_code and sku)\n"
			    "4|Qty|zwei|'zwei' is not a number written like 1.234,5\n");
	assert_string_equal(buf_cstr(&s.batches),
			    "#1\nsource_code,sku,quantity,status\ndefault,AB-1,1,1\ndefault,AB-4,4,1\n");
	sink_release(&s);
	/* a third rejected row is one more than allowed_errors = 2: the file goes */
	r = run("erp", three_bad, sizeof(three_bad) - 1, 4096, &s, 100);
	assert_int_equal(r.state, PIPE_REJECTED);
	assert_int_equal(r.rows_rejected, 3);
	assert_int_equal(r.rows_ok, 2);
	assert_non_null(strstr(buf_cstr(&s.messages), "more than 2 rows rejected (allowed_errors = 2)"));
	assert_non_null(strstr(buf_cstr(&s.problems), "5|ItemNo||sku is empty\n"));
	sink_release(&s);
}

static void test_stop_on_errors_rejects_the_file(void **state)
{
	static const char text[] = "sku,source_code,quantity\nA,default,1\nB,default,x\nC,default,3\n";
	struct sink s;
	struct pipeline_result r;

	(void)state;
	r = run("plain", text, sizeof(text) - 1, 4096, &s, 100);
	assert_int_equal(r.state, PIPE_REJECTED);
	assert_int_equal(r.rows, 3);
	assert_int_equal(r.rows_rejected, 1);
	assert_string_equal(buf_cstr(&s.batches), "");
	assert_non_null(strstr(buf_cstr(&s.messages), "validation = stop-on-errors"));
	sink_release(&s);
}

static void test_file_level_rejections(void **state)
{
	static const struct {
		const char *feed, *text, *message;
	} cases[] = {
		{ "plain", "", "the file is empty: there is no header line" },
		{ "plain", "sku,sku,source_code\n", "column 'sku' appears twice in the header (columns 1 and 2)" },
		{ "plain", "sku,,source_code\n", "line 1: column 2 of the header has no name" },
		{ "plain", "item,quantity,source_code\nx,1,d\n", "required column 'sku' is missing" },
		{ "plain", "sku,source_code,colour\n", "column 'colour' is not a stock_sources column" },
		{ "erp", "ItemNo;Menge\n", "required column 'Qty' is missing from the header" },
		{ "erp", "ItemNo;Qty\nab-1;\"5\"x\n", "line 2, column 9 (field 2, 'Qty'): unexpected 'x' after the closing quote" },
		{ "erp", "ItemNo;Qty\nab-1;5\nab-3;\"12", "line 3 (field 2, 'Qty'): the file ends inside a quoted field" },
	};
	struct sink s;
	struct pipeline_result r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = run(cases[i].feed, cases[i].text, strlen(cases[i].text), 4096, &s, 100);
		if (r.state != PIPE_REJECTED || strstr(buf_cstr(&s.messages), cases[i].message) == NULL)
			fail_msg("case %zu: state %d, messages '%s', want '%s'", i, r.state,
				 buf_cstr(&s.messages), cases[i].message);
		assert_string_equal(buf_cstr(&s.batches), "");
		sink_release(&s);
	}
}

static void test_row_level_problems(void **state)
{
	static const char text[] = "sku,source_code,quantity\nA,default,1\nB,default\n"
				   "C\xff,default,3\nD,default,4,extra\nE,default,5\n";
	struct sink s;
	struct pipeline_result r;

	(void)state;
	r = run("skip", text, sizeof(text) - 1, 4096, &s, 100);
	assert_int_equal(r.state, PIPE_PARTIAL);
	assert_int_equal(r.rows_ok, 2);
	assert_string_equal(buf_cstr(&s.problems),
			    "3|||the row has 2 fields; the header has 3\n"
			    "4|sku|C\xef\xbf\xbd|byte 0xFF at byte 2 of the line is not valid utf-8\n"
			    "5|||the row has 4 fields; the header has 3\n");
	sink_release(&s);
}

static void test_a_duplicate_is_told_before_the_next_row_s_problems(void **state)
{
	/* a row's duplicate check waits until the next row is read: whatever the next
	   row's problem, the report keeps the file's order */
	static const char text[] = "sku,source_code,quantity\nA,default,1\nA,default,2\n"
				   "B\xff,default,3\nA,default,4\nC,default\nA,default,5\n"
				   "D,default,x\nA,default,6\nE,default,7\n";
	struct sink s;
	struct pipeline_result r;

	(void)state;
	r = run("skip", text, sizeof(text) - 1, 4096, &s, 100);
	assert_int_equal(r.state, PIPE_PARTIAL);
	assert_int_equal(r.rows_ok, 2);
	assert_string_equal(buf_cstr(&s.problems),
			    "3|sku|A|duplicate of line 2 (same sku and source_code)\n"
			    "4|sku|B\xef\xbf\xbd|byte 0xFF at byte 2 of the line is not valid utf-8\n"
			    "5|sku|A|duplicate of line 2 (same sku and source_code)\n"
			    "6|||the row has 2 fields; the header has 3\n"
			    "7|sku|A|duplicate of line 2 (same sku and source_code)\n"
			    "8|quantity|x|quantity 'x' is not a number\n"
			    "9|sku|A|duplicate of line 2 (same sku and source_code)\n");
	assert_string_equal(buf_cstr(&s.batches),
			    "#1\nsku,source_code,quantity\nA,default,1\nE,default,7\n");
	sink_release(&s);
}

static void test_header_only_is_accepted_with_a_message(void **state)
{
	struct sink s;
	struct pipeline_result r;

	(void)state;
	r = run("plain", "sku,source_code\n", 16, 4096, &s, 100);
	assert_int_equal(r.state, PIPE_VALID);
	assert_int_equal(r.rows, 0);
	assert_int_equal(r.batches, 0);
	assert_string_equal(buf_cstr(&s.messages),
			    "the file has a header and no rows: there is nothing to import\n");
	sink_release(&s);
}

static void test_key_index_is_sized_once_and_small(void **state)
{
	struct buf text = BUF_INIT(BUF_NOCAP);
	struct pipeline_limits lim;
	struct sink s;
	struct pipeline_sink sk = { on_batch, on_problem, on_message, &s };
	struct pipeline_result r;
	struct pipeline *p;
	const size_t rows = 100000;

	(void)state;
	memset(&s, 0, sizeof(s));
	buf_init(&s.batches, BUF_NOCAP);
	buf_init(&s.problems, BUF_NOCAP);
	buf_init(&s.messages, BUF_NOCAP);
	buf_addstr(&text, "ItemNo;Qty\n");
	for (size_t i = 0; i < rows; i++)
		buf_printf(&text, "ab-%zu;%zu,5\n", i, i % 7);
	pipeline_default_limits(&lim);
	p = pipeline_new(conf_feed(conf, "erp"), &lim, &sk);
	pipeline_hint_size(p, text.len);
	for (size_t off = 0; off < text.len; off += 65536)
		pipeline_write(p, text.data + off, text.len - off < 65536 ? text.len - off : 65536);
	pipeline_finish(p, &r);
	assert_int_equal(r.rows_ok, rows);
	assert_int_equal(r.batches, rows / 5000);
	assert_true(pipeline_key_bytes(p) <= 16 * rows);
	pipeline_free(p);
	buf_release(&text);
	buf_release(&s.batches);
	buf_release(&s.problems);
	buf_release(&s.messages);
}

static void test_sequence_keys_compare_without_case_and_rows_are_summed(void **state)
{
	static const char text[] = "sku,source_code,quantity,status\nSKU-1,default,5,1\n"
				   "sku-1,default,6,1\nSKU-2,default,0,0\n";
	const char *dup = "3|sku|sku-1|duplicate of line 2 (same sku and source_code)\n";
	struct sink s;
	struct pipeline_result r;

	(void)state;
	/* the key store knows SKU-1 and sku-1 as one key: so does a sequence's parse */
	row_sums = 1;
	r = run("seq", text, sizeof(text) - 1, 4096, &s, 10);
	row_sums = 0;
	assert_int_equal(r.rows_ok, 2);
	assert_string_equal(buf_cstr(&s.problems), dup);
	/* each row's sum: the store's key hash and digest, and where its line is */
	assert_int_equal(s.nsums, 2);
	assert_true(s.sums[0].khash == key_hash("default,SKU-1", 13));
	assert_true(s.sums[0].khash == key_hash("default,sku-1", 13));
	assert_true(s.sums[0].digest == hash64("quantity=5\x1fstatus=1", 19));
	assert_true(s.sums[1].khash == key_hash("default,sku-2", 13));
	assert_true(s.sums[1].digest == hash64("quantity=0\x1fstatus=0", 19));
	assert_int_equal(s.sums[1].at, strlen("sku,source_code,quantity,status\nSKU-1,default,5,1\n"));
	assert_int_equal(s.sums[1].len, strlen("SKU-2,default,0,0\n"));
	sink_release(&s);
	/* a feed outside a sequence keeps its keys' case; no sums unless asked */
	r = run("skip", text, sizeof(text) - 1, 4096, &s, 10);
	assert_int_equal(r.rows_ok, 3);
	assert_int_equal(s.nsums, 0);
	sink_release(&s);
	r = run("seq", text, sizeof(text) - 1, 4096, &s, 10);
	assert_string_equal(buf_cstr(&s.problems), dup);
	assert_int_equal(s.nsums, 0);
	sink_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_erp_file_maps_onto_stock_sources),
		cmocka_unit_test(test_rows_rejected_alone_until_allowed_errors),
		cmocka_unit_test(test_stop_on_errors_rejects_the_file),
		cmocka_unit_test(test_file_level_rejections),
		cmocka_unit_test(test_row_level_problems),
		cmocka_unit_test(test_a_duplicate_is_told_before_the_next_row_s_problems),
		cmocka_unit_test(test_header_only_is_accepted_with_a_message),
		cmocka_unit_test(test_key_index_is_sized_once_and_small),
		cmocka_unit_test(test_sequence_keys_compare_without_case_and_rows_are_summed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
