/*
 * filters - the filter table and each filter's compile and apply functions
 * (see filters.h). Values are UTF-8; trim also drops U+00A0, upper and lower
 * change ASCII and Latin-1 letters only, number and instock read decimal
 * text, date reads with strptime(3), lookup reads a two-column CSV once.
 * A value a filter cannot take is -1 with a message and the value left as
 * it was; applying writes only into the caller's out buffer (which may grow
 * up to its cap), and reads no file.
 */
#include "config.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/filters.h"
#include "util/filesnap.h"
#include "util/keyset.h"
#include "util/xalloc.h"

#define LOOKUP_MAX_BYTES (64 * 1024 * 1024)

/* A lookup(FILE) table: two-column CSV, key to value. */
struct lookup_slot {
	uint64_t hash; /* 0: empty */
	size_t koff, klen, voff, vlen;
};

struct lookup {
	char *path;
	char *name;	 /* as the configuration wrote it, for messages */
	struct buf text; /* keys and values, back to back */
	struct lookup_slot *slots;
	size_t cap, count;
	/* loading state */
	struct strview cell[2];
	size_t cells;
	size_t off[2];
	unsigned long rows, bad_rows;
};

/* --- filters --------------------------------------------------------- */

static int is_blank_byte(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static struct strview trim_view(struct strview v)
{
	for (;;) {
		if (v.len && is_blank_byte((unsigned char)v.p[0])) {
			v.p++, v.len--;
		} else if (v.len >= 2 && (unsigned char)v.p[0] == 0xc2 &&
			   (unsigned char)v.p[1] == 0xa0) {
			v.p += 2, v.len -= 2; /* U+00A0 NO-BREAK SPACE, common in ERP exports */
		} else {
			break;
		}
	}
	for (;;) {
		if (v.len && is_blank_byte((unsigned char)v.p[v.len - 1]))
			v.len--;
		else if (v.len >= 2 && (unsigned char)v.p[v.len - 2] == 0xc2 &&
			 (unsigned char)v.p[v.len - 1] == 0xa0)
			v.len -= 2;
		else
			break;
	}
	return v;
}

static int apply_trim(const struct filter *f, struct strview *v, struct buf *out, struct buf *msg)
{
	(void)f, (void)out, (void)msg;
	*v = trim_view(*v);
	return 0;
}

/*
 * change_case: ASCII letters, and the Latin-1 letters U+00C0..U+00DE and
 * U+00E0..U+00FE (but for the signs x and /) that ERP and CRM files carry:
 * their UTF-8 forms differ in one bit of the second byte.
 */
static int change_case(struct strview *v, struct buf *out, int upper)
{
	/* the ASCII letters to change: a-z or A-Z; their case is the 0x20 bit */
	unsigned char lo = upper ? 'a' : 'A';
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	const uint64_t from = ones * (0x80u - lo), past = ones * (0x80u - lo - 26);
	const unsigned char *src = (const unsigned char *)v->p;
	unsigned char *d;
	size_t n = v->len, i = 0;

	if (buf_reserve(out, n) < 0)
		return -1;
	d = (unsigned char *)out->data + out->len;
	while (i < n) {
		unsigned char c;
		uint64_t w;

		if (i + 8 <= n) {
			/* eight ASCII bytes at once: 0x80 marks a byte in lo..lo+25 */
			memcpy(&w, src + i, 8);
			if (!(w & highs)) {
				uint64_t in = ((w + from) & ~(w + past)) & highs;
				w ^= in >> 2;
				memcpy(d + i, &w, 8);
				i += 8;
				continue;
			}
		}
		c = src[i];
		if ((unsigned char)(c - lo) < 26) {
			c ^= 0x20;
		} else if (c == 0xc3 && i + 1 < n) {
			unsigned char x = src[i + 1];
			if (upper && x >= 0xa0 && x <= 0xbe && x != 0xb7)
				x = (unsigned char)(x - 0x20);
			else if (!upper && x >= 0x80 && x <= 0x9e && x != 0x97)
				x = (unsigned char)(x + 0x20);
			d[i++] = c;
			c = x;
		}
		d[i++] = c;
	}
	out->len += n;
	out->data[out->len] = '\0';
	v->p = (const char *)d;
	return 0;
}

static int apply_upper(const struct filter *f, struct strview *v, struct buf *out, struct buf *msg)
{
	(void)f, (void)msg;
	return change_case(v, out, 1);
}

static int apply_lower(const struct filter *f, struct strview *v, struct buf *out, struct buf *msg)
{
	(void)f, (void)msg;
	return change_case(v, out, 0);
}

/*
 * number_normalise writes as it reads, in one pass: the sign's place is kept
 * at the start and filled only for a value that is not zero; leading zeros of
 * the whole part are skipped (one kept for 0.5), trailing zeros of the
 * fraction cut at the end. At most NUMBER_DIGITS digits, as Commerce's
 * decimal columns hold far fewer.
 */
#define NUMBER_DIGITS 64

int number_normalise(struct strview in, char dec, char thou, struct buf *out)
{
	const char *s = in.p, *end = in.p + in.len;
	size_t nd = 0, group = 0, start = out->len;
	int neg = 0, seen_thou = 0, nonzero = 0;
	char *d, *o;

	/* a sign, at most NUMBER_DIGITS digits, a 0 before the point, the point */
	if (buf_reserve(out, in.len + 2 < NUMBER_DIGITS + 3 ? in.len + 2 : NUMBER_DIGITS + 3) < 0)
		return -1;
	d = out->data + start;
	o = d + 1; /* d[0]: the sign's place */
	if (s < end && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	/* whole part, with optional thousands separators between groups of 3 */
	for (; s < end && *s != dec; s++) {
		if (*s >= '0' && *s <= '9') {
			if (nd++ == NUMBER_DIGITS)
				return -1;
			group++;
			if (*s != '0' || o > d + 1) {
				*o++ = *s;
				nonzero |= *s != '0';
			}
		} else if (thou && *s == thou) {
			if (nd == 0 || (seen_thou && group != 3) || (!seen_thou && group > 3))
				return -1;
			seen_thou = 1;
			group = 0;
		} else {
			return -1;
		}
	}
	if (nd == 0 || (seen_thou && group != 3))
		return -1;
	if (o == d + 1)
		*o++ = '0'; /* the whole part was zeros */
	if (s < end) {	    /* decimal separator */
		char *dot = o, *last = o;
		*o++ = '.';
		if (++s == end)
			return -1;
		for (; s < end; s++) {
			if (*s < '0' || *s > '9' || nd++ == NUMBER_DIGITS)
				return -1;
			*o++ = *s;
			if (*s != '0') {
				nonzero = 1;
				last = o;
			}
		}
		o = last == dot ? dot : last; /* no trailing zeros, no bare point */
	}
	if (neg && nonzero) {
		d[0] = '-';
	} else {
		memmove(d, d + 1, (size_t)(o - d - 1));
		o--;
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

static int apply_number(const struct filter *f, struct strview *v, struct buf *out, struct buf *msg)
{
	struct strview t = trim_view(*v);
	size_t start = out->len;

	if (t.len == 0) {
		*v = t;
		return 0;
	}
	if (number_normalise(t, f->dec, f->thou, out) < 0) {
		buf_truncate(out, start);
		if (f->thou)
			buf_printf(msg, "'%.*s' is not a number written like 1%c234%c5", (int)t.len,
				   t.p, f->thou, f->dec);
		else
			buf_printf(msg, "'%.*s' is not a number written like 1234%c5", (int)t.len,
				   t.p, f->dec);
		return -1;
	}
	v->p = out->data + start;
	v->len = out->len - start;
	return 0;
}

/*
 * in_stock: 1 above zero, 0 at or below it, -1 not a number: what
 * number_normalise(t, '.', 0) takes ([+-]digits[.digits], at most
 * NUMBER_DIGITS digits), read without writing it out.
 */
static int in_stock(struct strview t)
{
	const char *s = t.p, *end = t.p + t.len;
	size_t nd = 0, whole;
	int neg = 0, nonzero = 0;

	if (s < end && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	for (; s < end && *s >= '0' && *s <= '9'; s++, nd++)
		nonzero |= *s != '0';
	whole = nd;
	if (s < end && *s == '.') {
		for (s++; s < end && *s >= '0' && *s <= '9'; s++, nd++)
			nonzero |= *s != '0';
		if (nd == whole)
			return -1;
	}
	if (s != end || whole == 0 || nd > NUMBER_DIGITS)
		return -1;
	return nonzero && !neg;
}

static int apply_instock(const struct filter *f, struct strview *v, struct buf *out,
			 struct buf *msg)
{
	struct strview t = trim_view(*v);
	int stock = in_stock(t);

	(void)f, (void)out;
	if (stock < 0) {
		buf_printf(msg, "'%.*s' is not a quantity, so in or out of stock cannot be told",
			   (int)t.len, t.p);
		return -1;
	}
	v->p = stock ? "1" : "0";
	v->len = 1;
	return 0;
}

static int apply_default(const struct filter *f, struct strview *v, struct buf *out,
			 struct buf *msg)
{
	(void)out, (void)msg;
	if (v->len == 0)
		*v = sv_from(f->text);
	return 0;
}

static int apply_required(const struct filter *f, struct strview *v, struct buf *out,
			  struct buf *msg)
{
	(void)f, (void)out;
	if (trim_view(*v).len > 0)
		return 0;
	buf_addstr(msg, "a value is required");
	return -1;
}

static int apply_date(const struct filter *f, struct strview *v, struct buf *out, struct buf *msg)
{
	char in[256];
	struct tm tm;
	const char *end;
	struct strview t = trim_view(*v);
	size_t start = out->len;

	if (t.len == 0) {
		*v = t;
		return 0;
	}
	if (t.len >= sizeof(in))
		goto bad;
	memcpy(in, t.p, t.len);
	in[t.len] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(in, f->text, &tm);
	if (end == NULL || *end != '\0')
		goto bad;
	if (f->has_time)
		buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		buf_printf(out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	v->p = out->data + start;
	v->len = out->len - start;
	return 0;
bad:
	buf_printf(msg, "'%.*s' is not a date in the form %s", (int)t.len, t.p, f->text);
	return -1;
}

static struct lookup_slot *lookup_find(const struct lookup *lk, struct strview key, uint64_t h)
{
	size_t i = h % lk->cap;

	for (;;) {
		struct lookup_slot *s = &lk->slots[i];
		if (s->hash == 0)
			return s;
		if (s->hash == h && s->klen == key.len &&
		    memcmp(lk->text.data + s->koff, key.p, key.len) == 0)
			return s;
		i = (i + 1) % lk->cap;
	}
}

static int apply_lookup(const struct filter *f, struct strview *v, struct buf *out, struct buf *msg)
{
	const struct lookup *lk = f->lookup;
	uint64_t h = hash64(v->p, v->len) | 1;
	struct lookup_slot *s = lookup_find(lk, *v, h);

	(void)out;
	if (s->hash == 0) {
		buf_printf(msg, "'%.*s' is not in the lookup table %s", (int)v->len, v->p,
			   lk->name);
		return -1;
	}
	v->p = lk->text.data + s->voff;
	v->len = s->vlen;
	return 0;
}

static int compile_number(struct filter *f, char **args, int nargs, const struct filter_env *env,
			  struct buf *err)
{
	(void)env;
	if (strlen(args[0]) != 1 || (nargs == 2 && strlen(args[1]) > 1)) {
		buf_addstr(err,
			   "number() takes one-character separators, e.g. number(\",\", \".\")");
		return -1;
	}
	f->dec = args[0][0];
	f->thou = nargs == 2 ? args[1][0] : 0;
	if (f->dec == f->thou) {
		buf_addstr(err, "number(): the decimal and thousands separators must differ");
		return -1;
	}
	return 0;
}

static int compile_text(struct filter *f, char **args, int nargs, const struct filter_env *env,
			struct buf *err)
{
	(void)nargs, (void)env, (void)err;
	f->text = xstrdup(args[0]);
	return 0;
}

static int compile_date(struct filter *f, char **args, int nargs, const struct filter_env *env,
			struct buf *err)
{
	static const char *const time_convs[] = {"%H", "%I", "%M", "%S", "%T", "%R", "%r", "%c"};

	if (compile_text(f, args, nargs, env, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(time_convs) / sizeof(time_convs[0]); i++)
		if (strstr(f->text, time_convs[i]))
			f->has_time = 1;
	return 0;
}

static void lookup_cell(void *s, size_t len, void *ctx)
{
	struct lookup *lk = ctx;

	if (lk->cells < 2) {
		lk->off[lk->cells] = lk->text.len;
		lk->cell[lk->cells].len = len;
		if (buf_add(&lk->text, s, len) < 0)
			lk->bad_rows++;
	}
	lk->cells++;
}

static void lookup_row(int c, void *ctx)
{
	struct lookup *lk = ctx;
	struct lookup_slot *slot;
	struct strview key;
	uint64_t h;

	(void)c;
	lk->rows++;
	if (lk->cells != 2) {
		lk->bad_rows++;
		lk->cells = 0;
		return;
	}
	lk->cells = 0;
	if ((lk->count + 1) * 2 > lk->cap) {
		struct lookup_slot *old = lk->slots;
		size_t oldcap = lk->cap;

		lk->cap = oldcap ? oldcap * 2 : 64;
		lk->slots = xcalloc(lk->cap, sizeof(*lk->slots));
		for (size_t i = 0; i < oldcap; i++) {
			if (old[i].hash) {
				struct strview k = {lk->text.data + old[i].koff, old[i].klen};
				*lookup_find(lk, k, old[i].hash) = old[i];
			}
		}
		free(old);
	}
	key.p = lk->text.data + lk->off[0];
	key.len = lk->cell[0].len;
	h = hash64(key.p, key.len) | 1;
	slot = lookup_find(lk, key, h);
	if (slot->hash == 0)
		lk->count++;
	slot->hash = h;
	slot->koff = lk->off[0];
	slot->klen = lk->cell[0].len;
	slot->voff = lk->off[1];
	slot->vlen = lk->cell[1].len;
}

static void lookup_free(struct lookup *lk)
{
	if (lk == NULL)
		return;
	free(lk->path);
	free(lk->name);
	buf_release(&lk->text);
	free(lk->slots);
	free(lk);
}

/* lookup_bytes: the table's bytes from files, else read from disk into files. */
static const struct filesnap_file *lookup_bytes(const struct lookup *lk, const char *arg,
						struct filesnap *files, struct buf *err)
{
	const struct filesnap_file *have = filesnap_find(files, lk->path);
	struct buf bytes = BUF_INIT(LOOKUP_MAX_BYTES);
	char block[8192];
	size_t n;
	FILE *fp;
	int toobig = 0;

	if (have)
		return have;
	fp = fopen(lk->path, "re");
	if (fp == NULL) {
		buf_printf(err, "lookup(%s): cannot read %s: %s", arg, lk->path, strerror(errno));
		return NULL;
	}
	while (!toobig && (n = fread(block, 1, sizeof(block), fp)) > 0)
		toobig = buf_add(&bytes, block, n) < 0;
	if (ferror(fp) || toobig)
		buf_printf(err, "lookup(%s): cannot read %s: %s", arg, lk->path,
			   toobig ? "larger than 64 MiB" : strerror(errno));
	else
		filesnap_add(files, lk->path, buf_cstr(&bytes), bytes.len);
	fclose(fp);
	buf_release(&bytes);
	return filesnap_find(files, lk->path);
}

static int compile_lookup(struct filter *f, char **args, int nargs, const struct filter_env *env,
			  struct buf *err)
{
	struct lookup *lk = xcalloc(1, sizeof(*lk));
	struct filesnap own = FILESNAP_INIT;
	const struct filesnap_file *bytes;
	struct csv_parser p;
	int rc = -1;

	(void)nargs;
	lk->path = args[0][0] == '/' || env->basedir == NULL
		       ? xstrdup(args[0])
		       : xasprintf("%s/%s", env->basedir, args[0]);
	lk->name = xstrdup(args[0]);
	buf_init(&lk->text, LOOKUP_MAX_BYTES);
	/* with no files to keep them in, the bytes are only borrowed */
	bytes = lookup_bytes(lk, args[0], env->files ? env->files : &own, err);
	if (bytes == NULL)
		goto out;
	csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
	if (csv_parse(&p, bytes->data, bytes->len, lookup_cell, lookup_row, lk) == bytes->len)
		csv_fini(&p, lookup_cell, lookup_row, lk);
	if (csv_error(&p) != CSV_SUCCESS)
		buf_printf(err, "lookup(%s): %s is not a readable CSV file (%s)", args[0], lk->path,
			   csv_strerror(csv_error(&p)));
	else if (lk->bad_rows)
		buf_printf(err, "lookup(%s): %lu of %lu rows of %s do not have exactly two columns",
			   args[0], lk->bad_rows, lk->rows, lk->path);
	else if (lk->count == 0)
		buf_printf(err, "lookup(%s): %s is empty", args[0], lk->path);
	else
		rc = 0;
	csv_free(&p);
out:
	filesnap_clear(&own);
	if (rc < 0)
		lookup_free(lk);
	else
		f->lookup = lk;
	return rc;
}

/* --- the table ---------------------------------------------------------- */

/*
 * Adding a filter is adding a row: name, arguments (fewest, most), compile,
 * apply. One row a line (clang-format would pack the rows into columns).
 */
/* clang-format off */
static const struct filter_def filter_table[] = {
	{ "trim",     0, 0, NULL,           apply_trim },     /* blanks and U+00A0 off both ends */
	{ "upper",    0, 0, NULL,           apply_upper },    /* ASCII and Latin-1 letters */
	{ "lower",    0, 0, NULL,           apply_lower },    /* ASCII and Latin-1 letters */
	{ "number",   1, 2, compile_number, apply_number },   /* number(DEC[, THOU]) to 1234.5 */
	{ "instock",  0, 0, NULL,           apply_instock },  /* a quantity to 1 (above 0) or 0 */
	{ "default",  1, 1, compile_text,   apply_default },  /* default(X) for an empty value */
	{ "date",     1, 1, compile_date,   apply_date },     /* date(FORMAT) to ISO 8601 */
	{ "lookup",   1, 1, compile_lookup, apply_lookup },   /* lookup(FILE): key to value */
	{ "required", 0, 0, NULL,           apply_required }, /* an empty value rejects the row */
	{ NULL, 0, 0, NULL, NULL },
};
/* clang-format on */

const struct filter_def *filter_find(const char *name)
{
	for (const struct filter_def *d = filter_table; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

void filter_names(struct buf *out)
{
	for (const struct filter_def *d = filter_table; d->name; d++)
		buf_printf(out, "%s%s", d == filter_table ? "" : ", ", d->name);
}

int filter_compile(struct filter *f, const struct filter_def *d, char **args, int nargs,
		   const struct filter_env *env, struct buf *err)
{
	if (nargs < d->min_args || nargs > d->max_args) {
		if (d->max_args == 0)
			buf_printf(err, "%s takes no arguments", d->name);
		else
			buf_printf(err, "%s() takes %d to %d arguments, not %d", d->name,
				   d->min_args, d->max_args, nargs);
		return -1;
	}
	f->def = d;
	return d->compile ? d->compile(f, args, nargs, env, err) : 0;
}

void filter_release(struct filter *f)
{
	free(f->text);
	lookup_free(f->lookup);
	f->text = NULL;
	f->lookup = NULL;
}
