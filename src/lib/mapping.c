#include "config.h"

#include <ctype.h>
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/mapping.h"
#include "util/filesnap.h"
#include "util/keyset.h"
#include "util/xalloc.h"

#define MAX_ARGS 2
/* map_row.offsets: where a value lives when it is not in the arena */
#define IN_PLACE ((size_t)-2)
#define FAILED ((size_t)-1)

#define LOOKUP_MAX_BYTES (64 * 1024 * 1024)

/* A lookup(FILE) table: two-column CSV, key to value. */
struct lookup_slot {
	uint64_t hash; /* 0: empty */
	size_t koff, klen, voff, vlen;
};

struct lookup {
	char *path;
	char *name; /* as the configuration wrote it, for messages */
	struct buf text; /* keys and values, back to back */
	struct lookup_slot *slots;
	size_t cap, count;
	/* loading state */
	struct strview cell[2];
	size_t cells;
	size_t off[2];
	unsigned long rows, bad_rows;
};

struct filter;
/* What a filter compiles against: the configuration's directory and the files it was read with. */
struct compile_env {
	const char *basedir;
	struct filesnap *files; /* NULL: read from disk, keep nothing */
};
typedef int (*filter_compile_fn)(struct filter *f, char **args, int nargs,
				 const struct compile_env *env, struct buf *err);
typedef int (*filter_apply_fn)(const struct filter *f, struct strview *v, struct buf *out,
			       struct buf *msg);

struct filter_def {
	const char *name;
	int min_args, max_args;
	filter_compile_fn compile;
	filter_apply_fn apply;
};

struct filter {
	const struct filter_def *def;
	char dec, thou;
	char *text;   /* default: the value; date: the format */
	int has_time; /* date: the format reads a time of day */
	struct lookup *lookup;
};

struct map_expr {
	char *column;
	char *source;  /* NULL: literal */
	char *literal;
	struct filter *filters;
	size_t nfilters;
	/* an earlier column whose whole expression begins this one
	   (quantity = Qty | number, status = Qty | number | instock):
	   start from its value, after its nfilters filters; -1: none */
	long base;
	char **filter_text; /* each filter as written, trimmed, to compare chains */
};

struct mapping {
	struct map_expr *v;
	size_t n;
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
	char *d;

	if (buf_reserve(out, v->len) < 0)
		return -1;
	d = out->data + out->len;
	for (size_t i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->p[i];
		if (upper && c >= 'a' && c <= 'z') {
			c = (unsigned char)(c - 'a' + 'A');
		} else if (!upper && c >= 'A' && c <= 'Z') {
			c = (unsigned char)(c - 'A' + 'a');
		} else if (c == 0xc3 && i + 1 < v->len) {
			unsigned char n = (unsigned char)v->p[i + 1];
			if (upper && n >= 0xa0 && n <= 0xbe && n != 0xb7)
				n = (unsigned char)(n - 0x20);
			else if (!upper && n >= 0x80 && n <= 0x9e && n != 0x97)
				n = (unsigned char)(n + 0x20);
			d[i++] = (char)c;
			c = n;
		}
		d[i] = (char)c;
	}
	out->len += v->len;
	out->data[out->len] = '\0';
	v->p = d;
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

int number_normalise(struct strview in, char dec, char thou, struct buf *out)
{
	const char *s = in.p, *end = in.p + in.len;
	const char *ip = NULL, *fp = NULL;
	size_t ilen = 0, flen = 0, group = 0;
	int neg = 0, seen_thou = 0;
	char digits[64];
	size_t nd = 0;

	if (s < end && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	/* integer part, with optional thousands separators between groups of 3 */
	for (ip = s; s < end && *s != dec; s++) {
		if (*s >= '0' && *s <= '9') {
			if (nd == sizeof(digits))
				return -1;
			digits[nd++] = *s;
			group++;
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
	ilen = nd;
	(void)ip;
	if (s < end) { /* decimal separator */
		s++;
		fp = s;
		for (; s < end; s++) {
			if (*s < '0' || *s > '9' || nd == sizeof(digits))
				return -1;
			digits[nd++] = *s;
		}
		flen = (size_t)(end - fp);
		if (flen == 0)
			return -1;
	}
	/* shortest exact form: no leading zeros, no trailing fractional zeros */
	{
		size_t i0 = 0, fend = ilen + flen;
		int zero = 1;

		while (i0 + 1 < ilen && digits[i0] == '0')
			i0++;
		while (fend > ilen && digits[fend - 1] == '0')
			fend--;
		for (size_t i = i0; i < fend; i++)
			if (digits[i] != '0')
				zero = 0;
		if (neg && !zero && buf_addch(out, '-') < 0)
			return -1;
		if (buf_add(out, digits + i0, ilen - i0) < 0)
			return -1;
		if (fend > ilen && (buf_addch(out, '.') < 0 ||
				    buf_add(out, digits + ilen, fend - ilen) < 0))
			return -1;
	}
	return 0;
}

static int apply_number(const struct filter *f, struct strview *v, struct buf *out,
			struct buf *msg)
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
			buf_printf(msg, "'%.*s' is not a number written like 1234%c5", (int)t.len, t.p,
				   f->dec);
		return -1;
	}
	v->p = out->data + start;
	v->len = out->len - start;
	return 0;
}

static int apply_instock(const struct filter *f, struct strview *v, struct buf *out,
			 struct buf *msg)
{
	struct strview t = trim_view(*v);
	size_t start = out->len;
	int positive = 0;

	(void)f;
	if (number_normalise(t, '.', 0, out) < 0) {
		buf_truncate(out, start);
		buf_printf(msg, "'%.*s' is not a quantity, so in or out of stock cannot be told",
			   (int)t.len, t.p);
		return -1;
	}
	if (out->data[start] != '-')
		for (size_t i = start; i < out->len; i++)
			if (out->data[i] >= '1' && out->data[i] <= '9')
				positive = 1;
	buf_truncate(out, start);
	v->p = positive ? "1" : "0";
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

static int apply_lookup(const struct filter *f, struct strview *v, struct buf *out,
			struct buf *msg)
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

static int compile_number(struct filter *f, char **args, int nargs,
			  const struct compile_env *env, struct buf *err)
{
	(void)env;
	if (strlen(args[0]) != 1 || (nargs == 2 && strlen(args[1]) > 1)) {
		buf_addstr(err, "number() takes one-character separators, e.g. number(\",\", \".\")");
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

static int compile_text(struct filter *f, char **args, int nargs, const struct compile_env *env,
			struct buf *err)
{
	(void)nargs, (void)env, (void)err;
	f->text = xstrdup(args[0]);
	return 0;
}

static int compile_date(struct filter *f, char **args, int nargs, const struct compile_env *env,
			struct buf *err)
{
	static const char *const time_convs[] = { "%H", "%I", "%M", "%S", "%T", "%R", "%r", "%c" };

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
				struct strview k = { lk->text.data + old[i].koff, old[i].klen };
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

static int compile_lookup(struct filter *f, char **args, int nargs, const struct compile_env *env,
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

static const struct filter_def filter_defs[] = {
	{ "trim", 0, 0, NULL, apply_trim },
	{ "upper", 0, 0, NULL, apply_upper },
	{ "lower", 0, 0, NULL, apply_lower },
	{ "number", 1, 2, compile_number, apply_number },
	{ "instock", 0, 0, NULL, apply_instock },
	{ "default", 1, 1, compile_text, apply_default },
	{ "date", 1, 1, compile_date, apply_date },
	{ "lookup", 1, 1, compile_lookup, apply_lookup },
	{ "required", 0, 0, NULL, apply_required },
	{ NULL, 0, 0, NULL, NULL },
};

/* --- compiling -------------------------------------------------------- */

/* parse_quoted: s at an opening quote; the unescaped text in out, end past the close. */
static int parse_quoted(const char *s, struct buf *out, const char **end)
{
	for (s++; *s && *s != '"'; s++) {
		char c = *s;
		if (c == '\\') {
			switch (*++s) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '\\': c = '\\'; break;
			case '"': c = '"'; break;
			default: return -1;
			}
		}
		buf_addch(out, c);
	}
	if (*s != '"')
		return -1;
	*end = s + 1;
	return 0;
}

static char *strip(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static int parse_filter(struct filter *f, const char *text, const struct compile_env *env,
			struct buf *err)
{
	const char *paren = strchr(text, '(');
	char *name = strip(text, paren ? (size_t)(paren - text) : strlen(text));
	char *args[MAX_ARGS] = { NULL, NULL };
	int nargs = 0, rc = -1;
	const struct filter_def *d;

	for (d = filter_defs; d->name; d++)
		if (strcmp(d->name, name) == 0)
			break;
	if (d->name == NULL) {
		buf_printf(err, "unknown filter '%s' (known: trim, upper, lower, number, instock, "
				"default, date, lookup, required)", name);
		goto out;
	}
	if (paren) {
		const char *s = paren + 1;
		for (;;) {
			struct buf a = BUF_INIT(4096);
			while (isspace((unsigned char)*s))
				s++;
			if (*s == ')' && nargs == 0)
				break;
			if (nargs == MAX_ARGS) {
				buf_printf(err, "%s() takes at most %d arguments", name, d->max_args);
				goto out;
			}
			if (*s == '"') {
				if (parse_quoted(s, &a, &s) < 0) {
					buf_printf(err, "%s(): unterminated or badly escaped string",
						   name);
					buf_release(&a);
					goto out;
				}
			} else {
				size_t n = strcspn(s, ",)");
				char *w = strip(s, n);
				buf_addstr(&a, w);
				free(w);
				s += n;
			}
			args[nargs++] = buf_detach(&a);
			while (isspace((unsigned char)*s))
				s++;
			if (*s == ',') {
				s++;
				continue;
			}
			if (*s == ')')
				break;
			buf_printf(err, "%s(): expected ',' or ')' after an argument", name);
			goto out;
		}
		s++;
		while (isspace((unsigned char)*s))
			s++;
		if (*s) {
			buf_printf(err, "unexpected text after %s(...)", name);
			goto out;
		}
	}
	if (nargs < d->min_args || nargs > d->max_args) {
		if (d->max_args == 0)
			buf_printf(err, "%s takes no arguments", name);
		else
			buf_printf(err, "%s() takes %d to %d arguments, not %d", name, d->min_args,
				   d->max_args, nargs);
		goto out;
	}
	f->def = d;
	rc = d->compile ? d->compile(f, args, nargs, env, err) : 0;
out:
	free(name);
	for (int i = 0; i < nargs; i++)
		free(args[i]);
	return rc;
}

struct mapping *mapping_new(void)
{
	return xcalloc(1, sizeof(struct mapping));
}

void mapping_free(struct mapping *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		struct map_expr *e = &m->v[i];
		for (size_t j = 0; j < e->nfilters; j++) {
			free(e->filters[j].text);
			lookup_free(e->filters[j].lookup);
			free(e->filter_text[j]);
		}
		free(e->filters);
		free(e->filter_text);
		free(e->column);
		free(e->source);
		free(e->literal);
	}
	free(m->v);
	free(m);
}

/* split_pipes: the |-separated parts of expr, outside quotes and parentheses. */
static void split_pipes(const char *expr, struct buf *parts, size_t *starts, size_t *n,
			size_t max)
{
	int inq = 0, depth = 0;

	*n = 0;
	starts[(*n)++] = 0;
	for (const char *s = expr; *s; s++) {
		if (inq) {
			if (*s == '\\' && s[1])
				buf_addch(parts, *s++);
			else if (*s == '"')
				inq = 0;
		} else if (*s == '"') {
			inq = 1;
		} else if (*s == '(') {
			depth++;
		} else if (*s == ')') {
			depth--;
		} else if (*s == '|' && depth == 0 && *n < max) {
			buf_addch(parts, '\0');
			starts[(*n)++] = parts->len;
			continue;
		}
		buf_addch(parts, *s);
	}
}

/* find_base: an earlier expression on the same source whose filters begin e's. */
static long find_base(const struct mapping *m, const struct map_expr *e, const char *expr)
{
	long best = -1;

	(void)expr;
	if (e->source == NULL)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		const struct map_expr *b = &m->v[i];
		int same = b->source && strcmp(b->source, e->source) == 0 && b->nfilters > 0 &&
			   b->nfilters <= e->nfilters;
		for (size_t j = 0; same && j < b->nfilters; j++)
			same = strcmp(b->filter_text[j], e->filter_text[j]) == 0;
		if (same && (best < 0 || b->nfilters > m->v[best].nfilters))
			best = (long)i;
	}
	return best;
}

int mapping_add(struct mapping *m, const char *column, const char *expr, const char *basedir,
		struct filesnap *files, struct buf *err)
{
	const struct compile_env env = { basedir, files };
	struct map_expr e;
	struct buf parts = BUF_INIT(64 * 1024);
	size_t starts[32], n;
	char *head;
	int rc = -1;

	memset(&e, 0, sizeof(e));
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->v[i].column, column) == 0) {
			buf_printf(err, "column '%s' is mapped twice", column);
			return -1;
		}
	}
	split_pipes(expr, &parts, starts, &n, sizeof(starts) / sizeof(starts[0]));
	head = strip(buf_cstr(&parts), strlen(buf_cstr(&parts)));
	if (head[0] == '"') {
		struct buf lit = BUF_INIT(64 * 1024);
		const char *end;
		if (parse_quoted(head, &lit, &end) < 0 || *end) {
			buf_printf(err, "literal %s is not a closed \"string\"", head);
			buf_release(&lit);
			goto out;
		}
		e.literal = buf_detach(&lit);
	} else if (head[0] == '\0') {
		buf_addstr(err, "empty expression: name a source column or a \"literal\"");
		goto out;
	} else {
		e.source = xstrdup(head);
	}
	e.filters = xcalloc(n, sizeof(*e.filters));
	e.filter_text = xcalloc(n, sizeof(*e.filter_text));
	for (size_t i = 1; i < n; i++) {
		const char *t = parts.data + starts[i];
		if (parse_filter(&e.filters[e.nfilters], t, &env, err) < 0)
			goto out;
		e.filter_text[e.nfilters] = strip(t, strlen(t));
		e.nfilters++;
	}
	e.column = xstrdup(column);
	e.base = find_base(m, &e, expr);
	m->v = xreallocarray(m->v, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = e;
	memset(&e, 0, sizeof(e));
	rc = 0;
out:
	for (size_t j = 0; j < e.nfilters; j++) {
		free(e.filters[j].text);
		lookup_free(e.filters[j].lookup);
		free(e.filter_text[j]);
	}
	free(e.filters);
	free(e.filter_text);
	free(e.source);
	free(e.literal);
	free(head);
	buf_release(&parts);
	return rc;
}

size_t mapping_count(const struct mapping *m)
{
	return m->n;
}

const char *mapping_column(const struct mapping *m, size_t i)
{
	return m->v[i].column;
}

const char *mapping_source(const struct mapping *m, size_t i)
{
	return m->v[i].source;
}

/* --- per file and per row ---------------------------------------------- */

int mapping_bind(const struct mapping *m, const struct strview *header, size_t nheader,
		 int header_numbers, int *srcidx, struct buf *err)
{
	struct buf names = BUF_INIT(64 * 1024);
	int missing = 0;

	for (size_t i = 0; i < m->n; i++) {
		const char *src = m->v[i].source;
		srcidx[i] = -1;
		if (src == NULL)
			continue;
		if (header_numbers) {
			char *end;
			long pos = strtol(src, &end, 10);
			if (*end == '\0' && pos >= 1 && (size_t)pos <= nheader)
				srcidx[i] = (int)pos - 1;
		} else {
			for (size_t j = 0; j < nheader; j++)
				if (sv_eq(header[j], src)) {
					srcidx[i] = (int)j;
					break;
				}
		}
		if (srcidx[i] < 0) {
			int named = 0;
			for (size_t k = 0; k < i; k++)
				named |= srcidx[k] < 0 && m->v[k].source && strcmp(m->v[k].source, src) == 0;
			if (!named)
				buf_printf(&names, "%s'%s'", missing++ ? ", " : "", src);
		}
	}
	if (missing)
		buf_printf(err, "required column%s %s %s missing from the header",
			   missing > 1 ? "s" : "", buf_cstr(&names), missing > 1 ? "are" : "is");
	buf_release(&names);
	return missing ? -1 : 0;
}

void map_row_init(struct map_row *r, size_t value_cap)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->arena, value_cap * 8);
	buf_init(&r->scratch[0], value_cap);
	buf_init(&r->scratch[1], value_cap);
}

void map_row_release(struct map_row *r)
{
	free(r->values);
	free(r->offsets);
	buf_release(&r->arena);
	buf_release(&r->scratch[0]);
	buf_release(&r->scratch[1]);
	memset(r, 0, sizeof(*r));
}

int mapping_apply(const struct mapping *m, const int *srcidx, const struct strview *fields,
		  size_t nfields, struct map_row *out, map_problem_fn problem, void *ctx)
{
	struct buf msg = BUF_INIT(4096);
	int problems = 0;

	if (out->n < m->n) {
		out->values = xreallocarray(out->values, m->n, sizeof(*out->values));
		out->offsets = xreallocarray(out->offsets, m->n, sizeof(*out->offsets));
	}
	out->n = m->n;
	buf_reset(&out->arena);
	for (size_t i = 0; i < m->n; i++) {
		const struct map_expr *e = &m->v[i];
		struct strview v;
		int cur = 0, failed = 0;
		size_t first = 0;

		if (e->base >= 0 && out->offsets[e->base] != FAILED) {
			/* the earlier column did these filters already */
			v = out->values[e->base];
			if (out->offsets[e->base] != IN_PLACE)
				v.p = out->arena.data + out->offsets[e->base];
			first = m->v[e->base].nfilters;
		} else if (e->base >= 0) {
			/* it failed on the same value: one problem is enough */
			out->offsets[i] = FAILED;
			out->values[i].p = "";
			out->values[i].len = 0;
			problems++;
			continue;
		} else if (e->literal) {
			v = sv_from(e->literal);
		} else if (srcidx[i] >= 0 && (size_t)srcidx[i] < nfields) {
			v = fields[srcidx[i]];
		} else {
			v.p = "";
			v.len = 0;
		}
		for (size_t j = first; j < e->nfilters && !failed; j++) {
			struct buf *sb = &out->scratch[cur];
			/* v may point into the other scratch buffer; write into this one */
			buf_reset(sb);
			if (e->filters[j].def->apply(&e->filters[j], &v, sb, &msg) < 0) {
				int said = 0;
				/* two columns made from one bad value: one problem */
				for (size_t k = 0; k < i && srcidx[i] >= 0; k++)
					said |= srcidx[k] == srcidx[i] && out->offsets[k] == FAILED;
				if (msg.len == 0)
					buf_printf(&msg, "value is longer than %zu bytes", sb->cap);
				if (!said)
					problem(ctx, i, e->source,
						srcidx[i] >= 0 && (size_t)srcidx[i] < nfields
							? fields[srcidx[i]]
							: v,
						buf_cstr(&msg));
				buf_reset(&msg);
				problems++;
				failed = 1;
			}
			if (v.p >= sb->data && sb->data && v.p < sb->data + sb->alloc)
				cur = !cur;
		}
		if (failed) {
			out->offsets[i] = FAILED;
			out->values[i].p = "";
			out->values[i].len = 0;
			continue;
		}
		/* Keep the value: views into scratch move to the arena, the rest stay put. */
		if ((out->scratch[0].data && v.p >= out->scratch[0].data &&
		     v.p < out->scratch[0].data + out->scratch[0].alloc) ||
		    (out->scratch[1].data && v.p >= out->scratch[1].data &&
		     v.p < out->scratch[1].data + out->scratch[1].alloc)) {
			out->offsets[i] = out->arena.len;
			if (buf_add(&out->arena, v.p, v.len) < 0) {
				problem(ctx, i, e->source, v, "row is too long");
				problems++;
				out->offsets[i] = FAILED;
				v.len = 0;
			}
		} else if (out->arena.data && v.p >= out->arena.data &&
			   v.p < out->arena.data + out->arena.alloc) {
			out->offsets[i] = (size_t)(v.p - out->arena.data); /* a base's value */
		} else {
			out->offsets[i] = IN_PLACE;
		}
		out->values[i] = v;
	}
	/* The arena may have moved while it grew: point values into it last. */
	for (size_t i = 0; i < m->n; i++)
		if (out->offsets[i] < IN_PLACE)
			out->values[i].p = out->arena.data + out->offsets[i];
	buf_release(&msg);
	return problems;
}
