#include "config.h"

#include <stdlib.h>

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/decode.h"
#include "util/xalloc.h"

enum { KIND_UTF8, KIND_BYTE, KIND_UTF16 };

struct encoding {
	const char *name;
	const char *iconv_name;
	int kind;
};

/* One row an encoding (clang-format would pack the rows into columns). */
/* clang-format off */
static const struct encoding encodings[] = {
	{ "utf-8", "UTF-8", KIND_UTF8 },
	{ "windows-1252", "WINDOWS-1252", KIND_BYTE },
	{ "iso-8859-1", "ISO-8859-1", KIND_BYTE },
	{ "iso-8859-15", "ISO-8859-15", KIND_BYTE },
	{ "utf-16", "UTF-16", KIND_UTF16 },
	{ "utf-16le", "UTF-16LE", KIND_UTF16 },
	{ "utf-16be", "UTF-16BE", KIND_UTF16 },
	{ NULL, NULL, 0 },
};
/* clang-format on */

struct decoder {
	const struct encoding *enc;
	iconv_t cd;
	/* single-byte encodings: what iconv makes of each byte, asked once */
	unsigned char bytemap[256][4]; /* [0]: length of the UTF-8 form, 0: invalid */
	int started;
	struct buf out;
	struct buf msg;
	unsigned char carry[8];
	size_t ncarry;
	/* position, for error reports */
	unsigned long long abs;	       /* input bytes before the current block */
	unsigned long line;	       /* line at the start of the current block */
	unsigned long long line_start; /* absolute offset where that line starts */
	unsigned long out_lines;       /* line feeds written (utf-16 line numbers) */
	/* error queue */
	struct decode_error *errs;
	size_t head, nerrs, alloc;
	unsigned long invalid;
};

static const struct encoding *find(const char *name)
{
	for (const struct encoding *e = encodings; e->name; e++)
		if (strcasecmp(e->name, name) == 0)
			return e;
	if (strcasecmp(name, "utf8") == 0)
		return &encodings[0];
	if (strcasecmp(name, "cp1252") == 0)
		return &encodings[1];
	if (strcasecmp(name, "latin1") == 0)
		return &encodings[2];
	return NULL;
}

int decode_encoding_known(const char *name)
{
	return find(name) ? 0 : -1;
}

const char *decode_encoding_names(void)
{
	return "utf-8, windows-1252, iso-8859-1, iso-8859-15, utf-16, utf-16le, utf-16be";
}

/*
 * build_bytemap: for a single-byte encoding, ask iconv once what each byte
 * becomes; decoding is then a table lookup per byte instead of a pass through
 * gconv's two steps (bytes to UCS-4 to UTF-8), with iconv's own answers.
 */
static void build_bytemap(struct decoder *d)
{
	for (int c = 0; c < 256; c++) {
		char in = (char)c, out[8];
		char *ip = &in, *op = out;
		size_t il = 1, ol = sizeof(out);

		iconv(d->cd, NULL, NULL, NULL, NULL);
		if (iconv(d->cd, &ip, &il, &op, &ol) == (size_t)-1 || op - out > 3) {
			d->bytemap[c][0] = 0;
			continue;
		}
		d->bytemap[c][0] = (unsigned char)(op - out);
		memcpy(&d->bytemap[c][1], out, (size_t)(op - out));
	}
	iconv(d->cd, NULL, NULL, NULL, NULL);
}

static int open_iconv(struct decoder *d)
{
	if (d->enc->kind == KIND_UTF8)
		return 0;
	d->cd = iconv_open("UTF-8", d->enc->iconv_name);
	if (d->cd == (iconv_t)-1)
		return -1;
	if (d->enc->kind == KIND_BYTE)
		build_bytemap(d);
	return 0;
}

struct decoder *decoder_new(const char *encoding)
{
	struct decoder *d;
	const struct encoding *e = find(encoding);

	if (e == NULL)
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->enc = e;
	d->cd = (iconv_t)-1;
	d->line = 1;
	buf_init(&d->out, BUF_NOCAP);
	buf_init(&d->msg, 4096);
	if (open_iconv(d) < 0) {
		decoder_free(d);
		return NULL;
	}
	return d;
}

void decoder_free(struct decoder *d)
{
	if (d == NULL)
		return;
	if (d->cd != (iconv_t)-1)
		iconv_close(d->cd);
	buf_release(&d->out);
	buf_release(&d->msg);
	free(d->errs);
	free(d);
}

const char *decoder_encoding(const struct decoder *d)
{
	return d->enc->name;
}

const char *decoder_message(const struct decoder *d)
{
	return buf_cstr(&d->msg);
}

const struct decode_error *decoder_errors(const struct decoder *d, size_t *n)
{
	*n = d->nerrs - d->head;
	return d->errs ? d->errs + d->head : NULL; /* no error yet: NULL + 0 is undefined */
}

void decoder_take(struct decoder *d, size_t n)
{
	d->head += n;
	if (d->head == d->nerrs)
		d->head = d->nerrs = 0;
}

unsigned long decoder_line(const struct decoder *d)
{
	return d->line;
}

static size_t count_lf(const char *p, size_t n)
{
	size_t c = 0;
	const char *end = p + n;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* record: an invalid byte at offset pos of the block in[]. */
static int record(struct decoder *d, const char *in, size_t pos, unsigned char value)
{
	struct decode_error *e;

	if (++d->invalid > DECODE_MAX_INVALID) {
		buf_reset(&d->msg);
		buf_printf(&d->msg,
			   "more than %d bytes are not valid %s: is encoding = %s right for this "
			   "file?",
			   DECODE_MAX_INVALID, d->enc->name, d->enc->name);
		return -1;
	}
	if (d->nerrs == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 16;
		d->errs = xreallocarray(d->errs, d->alloc, sizeof(*d->errs));
	}
	e = &d->errs[d->nerrs++];
	e->value = value;
	if (d->enc->kind == KIND_UTF16) {
		e->line = d->out_lines + 1 + count_lf(d->out.data ? d->out.data : "", d->out.len);
		e->byte = (unsigned long)(d->abs + pos + 1);
		e->in_file = 1;
	} else {
		const char *lf = NULL;
		for (size_t i = pos; i > 0; i--)
			if (in[i - 1] == '\n') {
				lf = in + i - 1;
				break;
			}
		e->line = d->line + count_lf(in, pos);
		e->byte = lf ? (unsigned long)(in + pos - lf)
			     : (unsigned long)(d->abs + pos - d->line_start + 1);
		e->in_file = 0;
	}
	return 0;
}

static const char replacement[] = "\xef\xbf\xbd";

/* utf8_valid_len: length of the valid sequence at p, 0 if invalid, -1 if cut short. */
static int utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	int len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* first_non_ascii: index of the first byte >= 0x80, or n. */
static size_t first_non_ascii(const unsigned char *p, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		if (w & 0x8080808080808080ULL)
			break;
	}
	while (i < n && p[i] < 0x80)
		i++;
	return i;
}

int decode_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = first_non_ascii(p, n); i < n; i += first_non_ascii(p + i, n - i)) {
		int k = utf8_seq(p + i, n - i);
		if (k <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

/*
 * run_utf8: validate in[]; copy into d->out only when something must change.
 * *consumed: bytes used (the rest is an incomplete sequence to carry).
 */
static int run_utf8(struct decoder *d, const char *in, size_t len, int eof, int copy,
		    const char **out, size_t *outlen, size_t *consumed)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, span = 0;

	for (;;) {
		int n;

		i += first_non_ascii(p + i, len - i);
		if (i >= len)
			break;
		n = utf8_seq(p + i, len - i);
		if (n > 0) {
			i += (size_t)n;
			continue;
		}
		if (n < 0 && !eof)
			break; /* cut by the block: carry it */
		/* invalid: switch to copying */
		if (!copy) {
			copy = 1;
			buf_reset(&d->out);
		}
		buf_add(&d->out, in + span, i - span);
		buf_add(&d->out, replacement, 3);
		if (record(d, in, i, p[i]) < 0)
			return -1;
		i++;
		span = i;
	}
	*consumed = i;
	if (copy) {
		buf_add(&d->out, in + span, i - span);
		*out = d->out.data;
		*outlen = d->out.len;
	} else {
		*out = in;
		*outlen = i;
	}
	return 0;
}

static int run_bytemap(struct decoder *d, const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;
	char *o;

	if (buf_reserve(&d->out, len * 3) < 0)
		return -1;
	o = d->out.data + d->out.len;
	while (i < len) {
		size_t a = first_non_ascii(p + i, len - i);
		const unsigned char *m;

		memcpy(o, p + i, a);
		o += a;
		i += a;
		if (i == len)
			break;
		m = d->bytemap[p[i]];
		if (m[0] == 0) {
			if (record(d, in, i, p[i]) < 0)
				return -1;
			memcpy(o, replacement, 3);
			o += 3;
		} else {
			memcpy(o, m + 1, 3); /* m[0] of them count */
			o += m[0];
		}
		i++;
	}
	d->out.len = (size_t)(o - d->out.data);
	d->out.data[d->out.len] = '\0';
	return 0;
}

static int run_iconv(struct decoder *d, const char *in, size_t len, int eof, size_t *consumed)
{
	char *inp = (char *)in;
	size_t inleft = len;
	size_t unit = d->enc->kind == KIND_UTF16 ? 2 : 1;

	while (inleft > 0) {
		char *outp;
		size_t outleft, r;

		if (buf_reserve(&d->out, inleft * 2 + 16) < 0)
			return -1;
		outp = d->out.data + d->out.len;
		outleft = d->out.alloc - d->out.len - 1;
		r = iconv(d->cd, &inp, &inleft, &outp, &outleft);
		d->out.len = (size_t)(outp - d->out.data);
		d->out.data[d->out.len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		if (errno == EINVAL && !eof)
			break; /* incomplete sequence at the end: carry it */
		/* EILSEQ, or EINVAL at the end of the file */
		if (record(d, in, (size_t)(inp - in), (unsigned char)*inp) < 0)
			return -1;
		buf_add(&d->out, replacement, 3);
		if (inleft < unit)
			unit = inleft;
		inp += unit;
		inleft -= unit;
	}
	*consumed = (size_t)(inp - in);
	return 0;
}

static int check_bom(struct decoder *d, const char **in, size_t *len)
{
	const unsigned char *p = (const unsigned char *)*in;

	if (*len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		*in += 3;
		*len -= 3;
		d->abs += 3;
		d->line_start = 3;
		if (d->enc->kind != KIND_UTF8) {
			if (d->cd != (iconv_t)-1)
				iconv_close(d->cd);
			d->cd = (iconv_t)-1;
			d->enc = &encodings[0];
		}
		return 0;
	}
	if (*len >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff))) {
		if (d->enc->kind == KIND_UTF16)
			return 0; /* iconv's UTF-16 reads it; LE/BE skip it */
		buf_printf(&d->msg,
			   "the file starts with a UTF-16 byte-order mark but the feed declares "
			   "encoding = %s",
			   d->enc->name);
		return -1;
	}
	if (d->enc->kind == KIND_UTF16 && strcmp(d->enc->name, "utf-16") == 0 && *len > 0) {
		buf_addstr(&d->msg, "encoding = utf-16 needs a byte-order mark at the start of the "
				    "file; use utf-16le or utf-16be for files without one");
		return -1;
	}
	return 0;
}

/*
 * run_joined: the bytes held back at the start (too few to tell a byte-order
 * mark), then in[], as one first block.
 */
static int run_joined(struct decoder *d, const char *in, size_t len, int eof, const char **out,
		      size_t *outlen)
{
	struct buf j = BUF_INIT(BUF_NOCAP);
	int rc;

	buf_add(&j, d->carry, d->ncarry);
	buf_add(&j, in, len);
	d->ncarry = 0;
	d->started = 0;
	rc = decoder_run(d, j.data, j.len, eof, out, outlen);
	if (j.data && *out >= j.data && *out <= j.data + j.len) {
		/* handed through, maybe past a byte-order mark: keep the bytes in d->out */
		size_t skip = (size_t)(*out - j.data);
		buf_reset(&d->out);
		buf_add(&d->out, j.data + skip, *outlen);
		*out = d->out.data ? d->out.data : "";
	}
	buf_release(&j);
	return rc;
}

/*
 * finish_carry: the sequence the last block cut, completed from the first
 * bytes of this one (*in, *len: past them). 0 go on; 1 it is still cut (only
 * at a tiny block: *out is what there is); -1 as decoder_run.
 */
static int finish_carry(struct decoder *d, const char **in, size_t *len, int eof, const char **out,
			size_t *outlen)
{
	unsigned char tmp[16];
	size_t take = *len < 8 ? *len : 8, used = 0;
	const char *o;
	size_t olen;
	int rc;

	memcpy(tmp, d->carry, d->ncarry);
	memcpy(tmp + d->ncarry, *in, take);
	if (d->enc->kind == KIND_UTF8)
		rc = run_utf8(d, (char *)tmp, d->ncarry + take, eof && take == *len, 1, &o, &olen,
			      &used);
	else
		rc = run_iconv(d, (char *)tmp, d->ncarry + take, eof && take == *len, &used);
	if (rc < 0)
		return -1;
	if (used < d->ncarry) {
		memmove(d->carry, tmp + used, d->ncarry + take - used);
		d->ncarry = d->ncarry + take - used;
		*out = d->out.data ? d->out.data : "";
		*outlen = d->out.len;
		d->abs += *len;
		return 1;
	}
	used -= d->ncarry;
	d->ncarry = 0;
	*in += used;
	*len -= used;
	d->abs += used;
	return 0;
}

/* convert: in[] to UTF-8 by the encoding's kind; *consumed: bytes used, the rest to carry. */
static int convert(struct decoder *d, const char *in, size_t len, int eof, const char **out,
		   size_t *outlen, size_t *consumed)
{
	int rc;

	if (d->enc->kind == KIND_UTF8)
		return run_utf8(d, in, len, eof, d->out.len > 0, out, outlen, consumed);
	if (d->enc->kind == KIND_BYTE) {
		rc = run_bytemap(d, in, len);
		*consumed = len;
	} else {
		rc = run_iconv(d, in, len, eof, consumed);
	}
	*out = d->out.data ? d->out.data : "";
	*outlen = d->out.len;
	return rc;
}

/* advance: the position bookkeeping past a block of which consumed bytes were used. */
static void advance(struct decoder *d, const char *in, size_t consumed, const char *out,
		    size_t outlen)
{
	if (d->enc->kind == KIND_UTF16) {
		d->out_lines += count_lf(out, outlen);
		d->line = d->out_lines + 1;
	} else {
		const char *last = NULL;
		size_t lfs = 0;
		const char *p = in, *end = in + consumed;
		while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			lfs++;
			last = p++;
		}
		d->line += lfs;
		if (last)
			d->line_start = d->abs + (unsigned long long)(last - in) + 1;
	}
	d->abs += consumed;
}

int decoder_run(struct decoder *d, const char *in, size_t len, int eof, const char **out,
		size_t *outlen)
{
	size_t consumed = 0;
	int rc;

	buf_reset(&d->out);
	if (!d->started) {
		if (len < 3 && !eof && d->ncarry + len < sizeof(d->carry)) {
			/* too few bytes to tell a byte-order mark: hold them */
			memcpy(d->carry + d->ncarry, in, len);
			d->ncarry += len;
			*out = "";
			*outlen = 0;
			return 0;
		}
		d->started = 1;
		if (d->ncarry)
			return run_joined(d, in, len, eof, out, outlen);
		if (check_bom(d, &in, &len) < 0)
			return -1;
	}
	if (d->ncarry) {
		rc = finish_carry(d, &in, &len, eof, out, outlen);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	if (convert(d, in, len, eof, out, outlen, &consumed) < 0)
		return -1;
	if (consumed < len) {
		d->ncarry = len - consumed;
		if (d->ncarry > sizeof(d->carry)) { /* cannot happen: sequences are short */
			d->ncarry = 0;
			buf_addstr(&d->msg, "internal error: undecodable tail");
			return -1;
		}
		memcpy(d->carry, in + consumed, d->ncarry);
	}
	advance(d, in, consumed, *out, *outlen);
	return 0;
}
