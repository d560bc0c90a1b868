/*
 * fuzz_csv - partner CSV bytes through decode and csvin, in every encoding,
 * with every delimiter, strict or not; half the inputs go through the whole
 * pipeline (header, mapping, stock_sources checks, batches) of a feed with the
 * same settings.
 *
 * The direct runs go twice, through csvin's fast path and through libcsv
 * alone, and abort when the two read different rows or stop differently.
 *
 * Input: byte 0 = encoding (bits 0-2), delimiter (3-4), strict (5), mapped
 * feed (6), pipeline (7); byte 1 = block size the bytes are fed in (bits 0-3)
 * and small caps (4); the rest is the file.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "lib/conf.h"
#include "lib/csvin.h"
#include "lib/decode.h"
#include "lib/loadconf.h"
#include "lib/pipeline.h"
#include "util/buf.h"

static const char *const encodings[8] = { "utf-8",    "windows-1252", "iso-8859-1", "iso-8859-15",
					  "utf-16",   "utf-16le",     "utf-16be",   "utf-8" };
static const char *const delimiters[4] = { "comma", "semicolon", "tab", "pipe" };
static const char delimiter_chars[4] = { ',', ';', '\t', '|' };

static struct conf *conf;
static volatile size_t sink_bytes; /* what the callbacks read, so that they read */

/* make_conf: a feed per encoding, delimiter, strictness and mapping. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct buf text = BUF_INIT(BUF_NOCAP), err = BUF_INIT(BUF_NOCAP);
	char path[64];
	int fd;

	(void)argc, (void)argv;
	fuzz_quiet();
	buf_addstr(&text, "[commerce]\nurl = http://127.0.0.1:1\ntoken_file = token\n");
	for (unsigned k = 0; k < 128; k++) {
		buf_printf(&text, "[feed f%u]\ndir = in/f%u\nentity = stock_sources\n", k, k);
		buf_printf(&text, "encoding = %s\ndelimiter = %s\nstrict = %s\n", encodings[k & 7],
			   delimiters[(k >> 3) & 3], k & 32 ? "yes" : "no");
		buf_printf(&text, "validation = skip-errors\nallowed_errors = 1000\n");
		if (k & 64)
			buf_addstr(&text, "map.source_code = \"default\"\n"
					  "map.sku = ItemNo | trim | upper | required\n"
					  "map.quantity = QtyOnHand | number(\",\", \".\")\n"
					  "map.status = QtyOnHand | number(\",\", \".\") | instock\n");
	}
	fd = fuzz_file(text.data, text.len, path);
	conf = conf_load(path, &err);
	if (conf == NULL) {
		fprintf(stderr, "fuzz_csv: %s\n", buf_cstr(&err));
		abort();
	}
	close(fd);
	buf_release(&text);
	buf_release(&err);
	return 0;
}

static void touch(const char *p, size_t n)
{
	size_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)p[i];
	sink_bytes += sum;
}

/* what a direct run read: its rows (as text), how it ended */
struct reading {
	const struct csvin_opts *o;
	struct buf rows;
	int rc;
	struct csvin_error err;
};

static int on_row(void *ctx, const struct csvin_row *row)
{
	struct reading *r = ctx;

	if (row->line == 0 || row->last_line < row->line || row->n > r->o->max_fields)
		abort();
	buf_printf(&r->rows, "%lu-%lu%s:%zu", row->line, row->last_line, row->too_long ? "!" : "",
		   row->n);
	for (size_t i = 0; i < row->n; i++) {
		if (row->fields[i].len > r->o->max_field)
			abort();
		touch(row->fields[i].p, row->fields[i].len);
		buf_printf(&r->rows, "|%zu:", row->fields[i].len);
		buf_add(&r->rows, row->fields[i].p, row->fields[i].len);
	}
	buf_addch(&r->rows, '\n');
	return 0;
}

/* direct: decoder_run into csvin_feed, as the pipeline does, without the rest. */
static void direct(unsigned opt, const struct csvin_opts *o, struct fuzz_in in, size_t block,
		   struct reading *r)
{
	struct decoder *d = decoder_new(encodings[opt & 7]);
	struct csvin *c = csvin_new(o, on_row, r);
	struct buf msg = BUF_INIT(BUF_NOCAP);
	const char *out;
	size_t outlen, n;
	int eof = 0;

	while (!eof) {
		n = in.n < block ? in.n : block;
		eof = n == in.n;
		if (decoder_run(d, (const char *)in.p, n, eof, &out, &outlen) < 0) {
			touch(decoder_message(d), strlen(decoder_message(d)));
			break;
		}
		in.p += n, in.n -= n;
		if ((r->rc = csvin_feed(c, out, outlen)) != 0 ||
		    (eof && (r->rc = csvin_finish(c)) != 0)) {
			csvin_describe(c, &msg);
			r->err = *csvin_error(c);
			break;
		}
		decoder_errors(d, &n);
		if (n > 0)
			decoder_take(d, n);
	}
	csvin_free(c);
	decoder_free(d);
	buf_release(&msg);
}

static int on_batch(void *ctx, const struct batch *b)
{
	(void)ctx;
	fuzz_check_batch(b);
	touch(b->csv, b->len);
	for (size_t i = 0; i < b->rows; i++)
		sink_bytes += b->origin[i].line;
	return 0;
}

static void on_problem(void *ctx, const struct problem *p)
{
	(void)ctx;
	touch(p->column, strlen(p->column));
	touch(p->value.p, p->value.len);
	touch(p->message, strlen(p->message));
}

static void on_message(void *ctx, const char *msg)
{
	(void)ctx;
	touch(msg, strlen(msg));
}

static void through_pipeline(unsigned opt, const struct pipeline_limits *lim, struct fuzz_in in,
			     size_t block)
{
	struct pipeline_sink sink = { on_batch, on_problem, on_message, NULL };
	struct pipeline_result res;
	struct pipeline *p = pipeline_new(&conf->feeds[opt & 127], lim, &sink);

	pipeline_hint_size(p, in.n);
	while (in.n > 0) {
		size_t n = in.n < block ? in.n : block;
		if (pipeline_write(p, in.p, n) != 0)
			break;
		in.p += n, in.n -= n;
	}
	pipeline_finish(p, &res);
	if (res.rows_ok + res.rows_rejected > res.rows)
		abort();
	pipeline_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned opt = fuzz_take(&in), sizes = fuzz_take(&in);
	size_t block = (size_t)1 << (sizes & 15); /* 1 byte to 32 KiB */
	struct pipeline_limits lim;
	struct csvin_opts o;

	memset(&o, 0, sizeof(o));
	pipeline_default_limits(&lim);
	if (sizes & 16) {
		lim.max_field = 64;
		lim.max_row = 256;
		lim.max_fields = 8;
		lim.batch_rows = 3;
		lim.batch_bytes = 512;
	}
	if (opt & 128) {
		through_pipeline(opt, &lim, in, block);
		return 0;
	}
	o.delimiter = delimiter_chars[(opt >> 3) & 3];
	o.quote = '"';
	o.strict = (opt & 32) != 0;
	o.max_field = lim.max_field;
	o.max_row = lim.max_row;
	o.max_fields = lim.max_fields;
	{
		struct reading fast = { &o, BUF_INIT(BUF_NOCAP), 0, { 0 } };
		struct reading slow = { &o, BUF_INIT(BUF_NOCAP), 0, { 0 } };
		struct csvin_opts lo = o;

		lo.no_fast_path = 1;
		slow.o = &lo;
		direct(opt, &o, in, block, &fast);
		direct(opt, &lo, in, block, &slow);
		if (fast.rc != slow.rc || fast.rows.len != slow.rows.len ||
		    memcmp(buf_cstr(&fast.rows), buf_cstr(&slow.rows), fast.rows.len) != 0 ||
		    fast.err.kind != slow.err.kind || fast.err.line != slow.err.line ||
		    fast.err.column != slow.err.column || fast.err.field != slow.err.field ||
		    fast.err.row_line != slow.err.row_line || fast.err.ch != slow.err.ch)
			abort(); /* the fast path read something else than libcsv */
		buf_release(&fast.rows);
		buf_release(&slow.rows);
	}
	return 0;
}
