#include "config.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "lib/csvin.h"
#include "util/xalloc.h"

/* libcsv's state for "no row begun" (libcsv.c: ROW_NOT_BEGUN); the field is
   public in struct csv_parser. */
#define CSV_ROW_NOT_BEGUN 0

struct csvin {
	struct csv_parser p;
	struct csvin_opts o;
	csvin_row_fn fn;
	void *ctx;
	struct buf arena; /* the current row's field bytes */
	size_t *offs;
	struct strview *fields;
	size_t nfields, cap_fields;
	int row_too_long;
	int field_over; /* a field passed max_field: the file ends here */
	unsigned long line;       /* physical line being fed */
	unsigned long row_line;   /* 0: no row begun */
	unsigned long line_chars; /* characters of this line fed in earlier calls */
	int stopped;
	struct csvin_error err;
	/* the fast path's byte classes: 0 text, CLS_DELIM, CLS_ODD (quote, CR), CLS_LF */
	unsigned char cls[256];
	size_t fast_max; /* longest line the fast path takes: no cap can be passed below it */
};

enum { CLS_TEXT, CLS_DELIM, CLS_ODD, CLS_LF };

/* libcsv's realloc hook has no context pointer: the cap of the parser that is
   running now is kept here. */
static __thread size_t field_cap;

static void *capped_realloc(void *ptr, size_t size)
{
	if (size > field_cap)
		return NULL;
	return realloc(ptr, size);
}

static int no_space(unsigned char c)
{
	(void)c;
	return 0;
}

static void grow_fields(struct csvin *c)
{
	c->cap_fields = c->cap_fields ? c->cap_fields * 2 : 32;
	c->offs = xreallocarray(c->offs, c->cap_fields, sizeof(*c->offs));
	c->fields = xreallocarray(c->fields, c->cap_fields, sizeof(*c->fields));
}

static void on_field(void *s, size_t len, void *ctx)
{
	struct csvin *c = ctx;

	if (c->row_too_long || c->field_over)
		return;
	if (len > c->o.max_field) {
		/* libcsv's buffer (field_cap) holds a block more than max_field */
		c->field_over = 1;
		return;
	}
	if (c->nfields == c->o.max_fields || buf_add(&c->arena, s, len) < 0) {
		c->row_too_long = 1;
		return;
	}
	if (c->nfields == c->cap_fields)
		grow_fields(c);
	c->offs[c->nfields] = c->arena.len - len;
	c->fields[c->nfields].len = len;
	c->nfields++;
}

static void on_row(int term, void *ctx)
{
	struct csvin *c = ctx;
	struct csvin_row row;

	(void)term;
	if (c->field_over)
		return; /* not handed on; kept as it is for the error */
	if (c->row_line == 0)
		c->row_line = c->line;
	for (size_t i = 0; i < c->nfields; i++)
		c->fields[i].p = c->arena.data + c->offs[i];
	row.fields = c->fields;
	row.n = c->nfields;
	row.line = c->row_line;
	row.last_line = c->line;
	row.too_long = c->row_too_long;
	if (!c->stopped && c->fn(c->ctx, &row) != 0)
		c->stopped = 1;
	c->nfields = 0;
	c->row_too_long = 0;
	c->row_line = 0;
	buf_reset(&c->arena);
}

struct csvin *csvin_new(const struct csvin_opts *opts, csvin_row_fn fn, void *ctx)
{
	struct csvin *c = xcalloc(1, sizeof(*c));
	unsigned char flags = CSV_STRICT_FINI;

	if (opts->strict)
		flags |= CSV_STRICT;
	c->o = *opts;
	c->fn = fn;
	c->ctx = ctx;
	c->line = 1;
	buf_init(&c->arena, opts->max_row);
	if (csv_init(&c->p, flags) != 0)
		abort(); /* only fails on allocation, which we do lazily */
	csv_set_delim(&c->p, (unsigned char)opts->delimiter);
	csv_set_quote(&c->p, (unsigned char)opts->quote);
	csv_set_space_func(&c->p, no_space);
	csv_set_realloc_func(&c->p, capped_realloc);
	csv_set_blk_size(&c->p, 4096);
	c->cls[(unsigned char)opts->delimiter] = CLS_DELIM;
	c->cls[(unsigned char)opts->quote] = CLS_ODD;
	c->cls['\r'] = CLS_ODD;
	c->cls['\n'] = CLS_LF;
	c->fast_max = opts->max_field < opts->max_row ? opts->max_field : opts->max_row;
	if (opts->no_fast_path)
		c->fast_max = 0;
	return c;
}

void csvin_free(struct csvin *c)
{
	if (c == NULL)
		return;
	csv_free(&c->p);
	buf_release(&c->arena);
	free(c->offs);
	free(c->fields);
	free(c);
}

static size_t chars(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}

static void set_error(struct csvin *c, const char *seg, size_t at)
{
	int e = csv_error(&c->p);

	c->err.line = c->line;
	c->err.row_line = c->row_line ? c->row_line : c->line;
	c->err.field = c->nfields;
	c->err.column = c->line_chars + chars(seg, at) + 1;
	if (e == CSV_EPARSE && !c->field_over) {
		c->err.kind = CSVIN_SYNTAX;
		c->err.ch = seg[at];
	} else {
		c->err.kind = CSVIN_FIELD_CAP;
		c->err.column = 0;
	}
}

static inline void add_view(struct csvin *c, const char *p, size_t len)
{
	if (c->nfields == c->cap_fields)
		grow_fields(c);
	c->fields[c->nfields].p = p;
	c->fields[c->nfields].len = len;
	c->nfields++;
}

/* next_special: the first byte at or after i (before max) that is not plain text. */
static inline size_t next_special(const struct csvin *c, const unsigned char *u, size_t i,
				  size_t max)
{
#if defined(__SSE2__)
	/* sixteen bytes at a time: the delimiter, the quote, CR and LF */
	const __m128i d = _mm_set1_epi8((char)c->o.delimiter), q = _mm_set1_epi8((char)c->o.quote);
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');

	while (i + 16 <= max) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
		__m128i hit =
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, q)),
				 _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf)));
		unsigned m = (unsigned)_mm_movemask_epi8(hit);
		if (m)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
	while (i < max && c->cls[u[i]] == CLS_TEXT)
		i++;
	return i;
}

/*
 * quoted_field: the quoted field whose opening quote is at u[i], its quotes
 * taken off and doubled ones made single, into the arena (which has room
 * for the line). Returns the index past its closing quote, or 0 when it is
 * not a plain one: it holds a CR or LF (spans lines) or does not end within
 * max.
 */
static size_t quoted_field(struct csvin *c, const unsigned char *u, size_t i, size_t max)
{
	unsigned char q = (unsigned char)c->o.quote;
	size_t j = i + 1, from = j;

	for (;;) {
		while (j < max && u[j] != q && u[j] != '\r' && u[j] != '\n')
			j++;
		if (j + 1 >= max || u[j] != q)
			return 0;
		memcpy(c->arena.data + c->arena.len, u + from, j - from);
		c->arena.len += j - from;
		if (u[j + 1] != q)
			break;
		c->arena.data[c->arena.len++] = (char)q; /* "" is one quote */
		j += 2;
		from = j;
	}
	c->arena.data[c->arena.len] = '\0';
	return j + 1;
}

/*
 * fast_line: the line at s when it is a plain one: it ends in LF (or CR LF)
 * within end, holds no CR elsewhere, quotes only around whole fields that
 * stay on the line, has at most max_fields fields and is shorter than every
 * cap, and no row is open. Then its fields are what libcsv would hand on
 * (spaces kept): views into s, or for quoted fields into the arena. Returns
 * the bytes taken (0: not a plain line, libcsv reads it from its start).
 */
static size_t fast_line(struct csvin *c, const char *s, const char *end)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t max = (size_t)(end - s), i = 0, start;
	struct csvin_row row;
	unsigned char k;

	if (max > c->fast_max)
		max = c->fast_max;
	c->nfields = 0;
	for (;;) { /* a field a turn */
		start = i;
		if (i < max && u[i] == (unsigned char)c->o.quote) {
			size_t at;
			if (c->arena.len == 0 && buf_reserve(&c->arena, max) < 0)
				goto slow;
			at = c->arena.len;
			i = quoted_field(c, u, i, max);
			if (i == 0 || i >= max)
				goto slow;
			k = c->cls[u[i]];
			if (k == CLS_DELIM || k == CLS_LF || u[i] == '\r') {
				if (k == CLS_DELIM && c->nfields + 1 == c->o.max_fields)
					goto slow;
				add_view(c, c->arena.data + at, c->arena.len - at);
			}
		} else {
			i = next_special(c, u, i, max);
			if (i >= max)
				goto slow; /* no line end within reach */
			k = c->cls[u[i]];
			if (k == CLS_DELIM && c->nfields + 1 == c->o.max_fields)
				goto slow;
			if (k != CLS_ODD || u[i] == '\r')
				add_view(c, s + start, i - start);
		}
		if (k == CLS_DELIM) {
			i++;
			continue;
		}
		if (k == CLS_LF)
			break;
		if (u[i] != '\r' || i + 1 >= max || u[i + 1] != '\n')
			goto slow; /* a quote inside a field, a CR that does not end the line */
		break;
	}
	if (i == 0) { /* an empty line: libcsv skips it too */
		c->nfields = 0;
		return u[0] == '\r' ? 2 : 1;
	}
	row.fields = c->fields;
	row.n = c->nfields;
	row.line = row.last_line = c->line;
	row.too_long = 0;
	if (c->fn(c->ctx, &row) != 0)
		c->stopped = 1;
	c->nfields = 0;
	buf_reset(&c->arena);
	return i + (u[i] == '\r' ? 2 : 1);
slow:
	c->nfields = 0;
	buf_reset(&c->arena);
	return 0;
}

int csvin_feed(struct csvin *c, const char *text, size_t len)
{
	const char *end = text + len;

	field_cap = c->o.max_field + c->p.blk_size;
	while (text < end) {
		const char *lf;
		size_t seg, done;

		if (c->p.pstate == CSV_ROW_NOT_BEGUN && c->row_line == 0 && c->line_chars == 0) {
			seg = fast_line(c, text, end);
			if (seg) {
				c->line++;
				if (c->stopped)
					return 1;
				text += seg;
				continue;
			}
		}
		lf = memchr(text, '\n', (size_t)(end - text));
		seg = lf ? (size_t)(lf - text) + 1 : (size_t)(end - text);
		done = csv_parse(&c->p, text, seg, on_field, on_row, c);

		if (done != seg || csv_error(&c->p) != CSV_SUCCESS || c->field_over) {
			set_error(c, text, done);
			return -1;
		}
		if (c->p.pstate != CSV_ROW_NOT_BEGUN && c->row_line == 0)
			c->row_line = c->line;
		if (lf) {
			c->line++;
			c->line_chars = 0;
		} else {
			c->line_chars += chars(text, seg);
		}
		if (c->stopped)
			return 1;
		text += seg;
	}
	return 0;
}

int csvin_finish(struct csvin *c)
{
	field_cap = c->o.max_field + c->p.blk_size;
	if (c->stopped)
		return 1;
	if (csv_fini(&c->p, on_field, on_row, c) != 0) {
		c->err.kind = CSVIN_UNCLOSED;
		c->err.line = c->line;
		c->err.row_line = c->row_line ? c->row_line : c->line;
		c->err.field = c->nfields;
		c->err.column = 0;
		return -1;
	}
	if (c->field_over) {
		set_error(c, "", 0);
		return -1;
	}
	return c->stopped ? 1 : 0;
}

const struct csvin_error *csvin_error(const struct csvin *c)
{
	return &c->err;
}

void csvin_describe(const struct csvin *c, struct buf *out)
{
	const struct csvin_error *e = &c->err;

	switch (e->kind) {
	case CSVIN_SYNTAX:
		if (e->ch == c->o.quote)
			buf_printf(out, "a quote character inside a field that is not quoted "
					"(enclose the field in quotes and double the quote, or set "
					"strict = no for bare quotes such as 3/4%c)", c->o.quote);
		else
			buf_printf(out, "unexpected '%c' after the closing quote of a field; a "
					"quoted field must end with its quote", e->ch);
		break;
	case CSVIN_UNCLOSED:
		buf_addstr(out, "the file ends inside a quoted field: its closing quote is "
				"missing (was the upload cut off?)");
		break;
	case CSVIN_FIELD_CAP:
		buf_printf(out, "a field is longer than %zu bytes (an unclosed quote?)",
			   c->o.max_field);
		break;
	case CSVIN_OK:
		break;
	}
}
