#include "config.h"

#include "lib/csvin.h"
#include "testutil.h"

/* collect: every row as "line-last_line:field|field|..." lines. */
struct collect {
	struct buf text;
	int stop_after;
	int rows;
};

static int on_row(void *ctx, const struct csvin_row *row)
{
	struct collect *c = ctx;

	buf_printf(&c->text, "%lu-%lu%s:", row->line, row->last_line, row->too_long ? "!" : "");
	for (size_t i = 0; i < row->n; i++)
		buf_printf(&c->text, "%s%.*s", i ? "|" : "", (int)row->fields[i].len,
			   row->fields[i].p);
	buf_addch(&c->text, '\n');
	return ++c->rows == c->stop_after;
}

static struct csvin_opts opts(char delim, int strict)
{
	struct csvin_opts o = { delim, '"', strict, 1024, 4096, 16, 0 };
	return o;
}

/* parse: feed text in blocks of `block`; returns the feed/finish status. */
static int parse(const struct csvin_opts *o, const char *text, size_t block, struct collect *c,
		 struct csvin **keep)
{
	struct csvin *p = csvin_new(o, on_row, c);
	size_t len = strlen(text), off = 0;
	int rc = 0;

	buf_reset(&c->text);
	c->rows = 0;
	while (off < len && rc == 0) {
		size_t n = len - off < block ? len - off : block;
		rc = csvin_feed(p, text + off, n);
		off += n;
	}
	if (rc == 0)
		rc = csvin_finish(p);
	if (keep)
		*keep = p;
	else
		csvin_free(p);
	return rc;
}

static void test_rows_keep_their_partner_lines(void **state)
{
	struct csvin_opts o = opts(',', 1);
	struct collect c = { BUF_INIT(BUF_NOCAP), 0, 0 };
	const char *text = "sku,desc\r\nA,\"two\r\nlines\"\r\n\r\nB, spaced \r\nC,\"q\"\"uote\"";

	(void)state;
	/* the same rows whatever the block size, down to one byte at a time */
	for (size_t block = 1; block <= 64; block *= 2) {
		assert_int_equal(parse(&o, text, block, &c, NULL), 0);
		assert_string_equal(buf_cstr(&c.text), "1-1:sku|desc\n"
						       "2-3:A|two\r\nlines\n"
						       "5-5:B| spaced \n"
						       "6-6:C|q\"uote\n");
	}
	buf_release(&c.text);
}

static void test_semicolon_and_tab_delimiters(void **state)
{
	struct csvin_opts o = opts(';', 1);
	struct collect c = { BUF_INIT(BUF_NOCAP), 0, 0 };

	(void)state;
	assert_int_equal(parse(&o, "a;b\n1,5;x\n", 64, &c, NULL), 0);
	assert_string_equal(buf_cstr(&c.text), "1-1:a|b\n2-2:1,5|x\n");
	o = opts('\t', 1);
	assert_int_equal(parse(&o, "a\tb\n\tx \n", 64, &c, NULL), 0);
	assert_string_equal(buf_cstr(&c.text), "1-1:a|b\n2-2:|x \n");
	buf_release(&c.text);
}

static void test_strict_refuses_bare_quotes_with_line_and_column(void **state)
{
	struct csvin_opts o = opts(',', 1);
	struct collect c = { BUF_INIT(BUF_NOCAP), 0, 0 };
	struct csvin *p;
	struct buf msg = BUF_INIT(BUF_NOCAP);

	(void)state;
	assert_int_equal(parse(&o, "sku,size\nA,1\nB,3/4\" pipe\n", 5, &c, &p), -1);
	assert_int_equal(csvin_error(p)->kind, CSVIN_SYNTAX);
	assert_int_equal(csvin_error(p)->line, 3);
	assert_int_equal(csvin_error(p)->column, 6);
	assert_int_equal(csvin_error(p)->field, 1);
	csvin_describe(p, &msg);
	assert_non_null(strstr(buf_cstr(&msg), "strict = no"));
	csvin_free(p);
	/* text after a closing quote */
	assert_int_equal(parse(&o, "a,b\n\"Dübel\"x,1\n", 64, &c, &p), -1);
	assert_int_equal(csvin_error(p)->line, 2);
	assert_int_equal(csvin_error(p)->column, 8); /* characters, not bytes */
	csvin_free(p);
	/* strict = no takes them as written */
	o = opts(',', 0);
	assert_int_equal(parse(&o, "sku,size\nB,3/4\" pipe\n", 64, &c, NULL), 0);
	assert_string_equal(buf_cstr(&c.text), "1-1:sku|size\n2-2:B|3/4\" pipe\n");
	buf_release(&msg);
	buf_release(&c.text);
}

static void test_unclosed_quote_at_end_of_file(void **state)
{
	struct csvin_opts o = opts(';', 1);
	struct collect c = { BUF_INIT(BUF_NOCAP), 0, 0 };
	struct csvin *p;

	(void)state;
	assert_int_equal(parse(&o, "ItemNo;QtyOnHand\r\nab-1;5\r\nab-3;\"12", 64, &c, &p), -1);
	assert_int_equal(csvin_error(p)->kind, CSVIN_UNCLOSED);
	assert_int_equal(csvin_error(p)->row_line, 3);
	assert_int_equal(csvin_error(p)->field, 1);
	assert_string_equal(buf_cstr(&c.text), "1-1:ItemNo|QtyOnHand\n2-2:ab-1|5\n");
	csvin_free(p);
	buf_release(&c.text);
}

static void test_caps(void **state)
{
	struct csvin_opts o = opts(',', 1);
	struct collect c = { BUF_INIT(BUF_NOCAP), 0, 0 };
	struct buf big = BUF_INIT(BUF_NOCAP);
	struct csvin *p;

	(void)state;
	/* a field over max_field ends the file: libcsv's buffer is refused growth */
	buf_addstr(&big, "a,b\n1,\"");
	for (int i = 0; i < 100000; i++)
		buf_addch(&big, 'x');
	assert_int_equal(parse(&o, buf_cstr(&big), 4096, &c, &p), -1);
	assert_int_equal(csvin_error(p)->kind, CSVIN_FIELD_CAP);
	assert_int_equal(csvin_error(p)->row_line, 2);
	csvin_free(p);
	/* the cap is max_field bytes exactly, not max_field and a libcsv block */
	for (int quoted = 0; quoted < 2; quoted++) {
		buf_reset(&big);
		buf_addstr(&big, quoted ? "a,b\n1,\"" : "a,b\n1,");
		for (size_t i = 0; i < o.max_field; i++)
			buf_addch(&big, 'x');
		buf_addstr(&big, quoted ? "\"\n" : "\n");
		assert_int_equal(parse(&o, buf_cstr(&big), 4096, &c, NULL), 0);
		assert_int_equal(c.rows, 2);
		buf_truncate(&big, big.len - (quoted ? 2 : 1));
		buf_addstr(&big, quoted ? "x\"\n2,y\n" : "x\n2,y\n");
		assert_int_equal(parse(&o, buf_cstr(&big), 4096, &c, &p), -1);
		assert_int_equal(csvin_error(p)->kind, CSVIN_FIELD_CAP);
		assert_int_equal(csvin_error(p)->row_line, 2);
		assert_int_equal(csvin_error(p)->field, 1);
		assert_string_equal(buf_cstr(&c.text), "1-1:a|b\n"); /* the row is not handed on */
		csvin_free(p);
		/* at the end of the file too */
		buf_truncate(&big, big.len - 5);
		assert_int_equal(parse(&o, buf_cstr(&big), 4096, &c, &p), -1);
		assert_int_equal(csvin_error(p)->kind, CSVIN_FIELD_CAP);
		csvin_free(p);
	}
	/* a row over max_fields is handed on, marked, and the next row is read */
	buf_reset(&big);
	buf_addstr(&big, "a\n");
	for (int i = 0; i < 20; i++)
		buf_addstr(&big, "x,");
	buf_addstr(&big, "x\nlast\n");
	assert_int_equal(parse(&o, buf_cstr(&big), 4096, &c, NULL), 0);
	assert_non_null(strstr(buf_cstr(&c.text), "2-2!:"));
	assert_non_null(strstr(buf_cstr(&c.text), "3-3:last\n"));
	buf_release(&big);
	buf_release(&c.text);
}

static void test_callback_can_stop(void **state)
{
	struct csvin_opts o = opts(',', 1);
	struct collect c = { BUF_INIT(BUF_NOCAP), 2, 0 };

	(void)state;
	assert_int_equal(parse(&o, "a\nb\nc\nd\n", 64, &c, NULL), 1);
	assert_int_equal(c.rows, 2);
	buf_release(&c.text);
}

/* both: the rows and the outcome of text through the fast path and through libcsv alone */
static void both(struct csvin_opts o, const char *text, size_t block, struct collect *fast,
		 struct collect *slow)
{
	struct csvin *pf, *ps;
	int rf, rs;

	o.no_fast_path = 0;
	rf = parse(&o, text, block, fast, &pf);
	o.no_fast_path = 1;
	rs = parse(&o, text, block, slow, &ps);
	assert_int_equal(rf, rs);
	assert_string_equal(buf_cstr(&fast->text), buf_cstr(&slow->text));
	if (rf < 0) {
		assert_int_equal(csvin_error(pf)->kind, csvin_error(ps)->kind);
		assert_int_equal(csvin_error(pf)->line, csvin_error(ps)->line);
		assert_int_equal(csvin_error(pf)->row_line, csvin_error(ps)->row_line);
		assert_int_equal(csvin_error(pf)->column, csvin_error(ps)->column);
		assert_int_equal(csvin_error(pf)->field, csvin_error(ps)->field);
	}
	csvin_free(pf);
	csvin_free(ps);
}

static void test_fast_path_reads_as_libcsv(void **state)
{
	static const char *const alphabet[] = { "a", "b", " ", ";", ";", "\"", "\r", "\n", "\r\n",
						"\xc3\xbc", "xxxxxxxxxx", "\"q;\"", "\"\"", "\"a\"\"b\"",
						";\"x\";", "\"\r\n\"" };
	struct collect fast = { BUF_INIT(BUF_NOCAP), 0, 0 }, slow = { BUF_INIT(BUF_NOCAP), 0, 0 };
	struct buf text = BUF_INIT(BUF_NOCAP);
	unsigned long seed = 16;

	(void)state;
	/* the plain lines the fast path takes, the edges where it hands over */
	both(opts(';', 1), "a;b\r\n\r\n;\n;;\r\n  \n x ; y \r\nlast", 7, &fast, &slow);
	assert_string_equal(buf_cstr(&fast.text),
			    "1-1:a|b\n3-3:|\n4-4:||\n5-5:  \n6-6: x | y \n7-7:last\n");
	both(opts(';', 1), "a\rb;c\r\n\"q\";x\n", 64, &fast, &slow);
	/* quoted fields on one line are read here too; over two lines, by libcsv */
	both(opts(';', 1), "\"a;b\";\"\";\"x\"\"y\"\r\n\"two\nlines\";z\n\"q\"x\n", 64, &fast, &slow);
	assert_string_equal(buf_cstr(&fast.text), "1-1:a;b||x\"y\n2-3:two\nlines|z\n");
	for (int round = 0; round < 20000; round++) {
		struct csvin_opts o = opts(';', round & 1);
		size_t n = 1 + (seed >> 7) % 60;

		if (round & 2)
			o.max_field = 8, o.max_row = 12, o.max_fields = 3;
		buf_reset(&text);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			buf_addstr(&text, alphabet[(seed >> 33) % (sizeof(alphabet) / sizeof(*alphabet))]);
		}
		both(o, buf_cstr(&text), 1 + (seed >> 40) % 70, &fast, &slow);
	}
	buf_release(&text);
	buf_release(&fast.text);
	buf_release(&slow.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_keep_their_partner_lines),
		cmocka_unit_test(test_semicolon_and_tab_delimiters),
		cmocka_unit_test(test_strict_refuses_bare_quotes_with_line_and_column),
		cmocka_unit_test(test_unclosed_quote_at_end_of_file),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_callback_can_stop),
		cmocka_unit_test(test_fast_path_reads_as_libcsv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
