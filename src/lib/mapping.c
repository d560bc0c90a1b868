#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/filters.h"
#include "lib/mapping.h"
#include "util/xalloc.h"

#define MAX_ARGS 2
/* map_row.offsets: where a value lives when it is not in the arena */
#define IN_PLACE ((size_t)-2)
#define FAILED ((size_t)-1)

struct map_expr {
	char *column;
	char *source; /* NULL: literal */
	char *literal;
	size_t literal_len;
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

/* --- compiling -------------------------------------------------------- */

/* parse_quoted: s at an opening quote; the unescaped text in out, end past the close. */
static int parse_quoted(const char *s, struct buf *out, const char **end)
{
	for (s++; *s && *s != '"'; s++) {
		char c = *s;
		if (c == '\\') {
			switch (*++s) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case '\\':
				c = '\\';
				break;
			case '"':
				c = '"';
				break;
			default:
				return -1;
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

/*
 * parse_args: the arguments of filter d after its '(' (s), each a "quoted
 * string" or a bare word, into args[]; -1 with err set.
 */
static int parse_args(const char *s, const struct filter_def *d, char **args, int *nargs,
		      struct buf *err)
{
	for (;;) {
		struct buf a = BUF_INIT(4096);
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ')' && *nargs == 0)
			break;
		if (*nargs == MAX_ARGS) {
			buf_printf(err, "%s() takes at most %d arguments", d->name, d->max_args);
			return -1;
		}
		if (*s == '"') {
			if (parse_quoted(s, &a, &s) < 0) {
				buf_printf(err, "%s(): unterminated or badly escaped string",
					   d->name);
				buf_release(&a);
				return -1;
			}
		} else {
			size_t n = strcspn(s, ",)");
			char *w = strip(s, n);
			buf_addstr(&a, w);
			free(w);
			s += n;
		}
		args[(*nargs)++] = buf_detach(&a);
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == ')')
			break;
		buf_printf(err, "%s(): expected ',' or ')' after an argument", d->name);
		return -1;
	}
	s++;
	while (isspace((unsigned char)*s))
		s++;
	if (*s) {
		buf_printf(err, "unexpected text after %s(...)", d->name);
		return -1;
	}
	return 0;
}

/* parse_filter: one filter as written (`number(",", ".")`) into f. */
static int parse_filter(struct filter *f, const char *text, const struct filter_env *env,
			struct buf *err)
{
	const char *paren = strchr(text, '(');
	char *name = strip(text, paren ? (size_t)(paren - text) : strlen(text));
	char *args[MAX_ARGS] = {NULL, NULL};
	int nargs = 0, rc = -1;
	const struct filter_def *d = filter_find(name);

	if (d == NULL) {
		buf_printf(err, "unknown filter '%s' (known: ", name);
		filter_names(err);
		buf_addch(err, ')');
		goto out;
	}
	if (paren && parse_args(paren + 1, d, args, &nargs, err) < 0)
		goto out;
	rc = filter_compile(f, d, args, nargs, env, err);
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
			filter_release(&e->filters[j]);
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
static void split_pipes(const char *expr, struct buf *parts, size_t *starts, size_t *n, size_t max)
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
	const struct filter_env env = {basedir, files};
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
		e.literal_len = lit.len;
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
		filter_release(&e.filters[j]);
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

const char *mapping_literal(const struct mapping *m, size_t i)
{
	return m->v[i].nfilters == 0 && m->v[i].base < 0 ? m->v[i].literal : NULL;
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
				named |= srcidx[k] < 0 && m->v[k].source &&
					 strcmp(m->v[k].source, src) == 0;
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
	r->value_cap = value_cap;
	buf_init(&r->arena, value_cap * 8);
	buf_init(&r->msg, 4096);
}

void map_row_release(struct map_row *r)
{
	free(r->values);
	free(r->offsets);
	buf_release(&r->arena);
	buf_release(&r->msg);
	memset(r, 0, sizeof(*r));
}

/* told_before: an earlier column made from column i's field failed this row, and told why. */
static int told_before(const int *srcidx, const struct map_row *out, size_t i)
{
	int said = 0;

	for (size_t k = 0; k < i && srcidx[i] >= 0; k++)
		said |= srcidx[k] == srcidx[i] && out->offsets[k] == FAILED;
	return said;
}

static inline void no_value(struct map_row *out, size_t i)
{
	out->offsets[i] = FAILED;
	out->values[i].p = "";
	out->values[i].len = 0;
}

/*
 * run_filter: filter f on v, writing at the end of the arena. The arena is
 * grown first by what the filter may write (FILTER_ROOM, filters.h) and its
 * cap lowered to that for the call, so that it cannot move while v or an
 * earlier value points into it. *at: v's offset in the arena, or IN_PLACE.
 * 0; -1 with msg set (empty: the value is too long); -2 the row is too long.
 */
static int run_filter(const struct filter *f, struct strview *v, size_t *at, struct map_row *out)
{
	struct buf *a = &out->arena;
	size_t room = v->len + FILTER_ROOM, cap = a->cap;
	int rc;

	if (a->alloc - a->len <= room) {
		if (buf_reserve(a, room) < 0)
			return -2;
		if (*at != IN_PLACE)
			v->p = a->data + *at;
	}
	if (room > out->value_cap)
		room = out->value_cap;
	if (a->len + room < cap)
		a->cap = a->len + room;
	rc = f->def->apply(f, v, a, &out->msg);
	a->cap = cap;
	if (rc < 0)
		return -1;
	*at = v->p >= a->data && v->p <= a->data + a->len ? (size_t)(v->p - a->data) : IN_PLACE;
	return 0;
}

int mapping_apply(const struct mapping *m, const int *srcidx, const struct strview *fields,
		  size_t nfields, struct map_row *out, map_problem_fn problem, void *ctx)
{
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
		size_t first = 0, at = IN_PLACE;
		int rc = 0;

		if (e->base >= 0 && out->offsets[e->base] != FAILED) {
			/* the earlier column did these filters already */
			v = out->values[e->base];
			at = out->offsets[e->base];
			if (at != IN_PLACE)
				v.p = out->arena.data + at;
			first = m->v[e->base].nfilters;
		} else if (e->base >= 0) {
			/* it failed on the same value: one problem is enough */
			no_value(out, i);
			problems++;
			continue;
		} else if (e->literal) {
			v.p = e->literal;
			v.len = e->literal_len;
		} else if (srcidx[i] >= 0 && (size_t)srcidx[i] < nfields) {
			v = fields[srcidx[i]];
		} else {
			v.p = "";
			v.len = 0;
		}
		for (size_t j = first; j < e->nfilters && rc == 0; j++)
			rc = run_filter(&e->filters[j], &v, &at, out);
		if (rc == -1) {
			struct buf *msg = &out->msg;
			if (msg->len == 0)
				buf_printf(msg, "value is longer than %zu bytes", out->value_cap);
			/* two columns made from one bad value: one problem */
			if (!told_before(srcidx, out, i))
				problem(ctx, i, e->source,
					srcidx[i] >= 0 && (size_t)srcidx[i] < nfields
					    ? fields[srcidx[i]]
					    : v,
					buf_cstr(msg));
			buf_reset(msg);
		} else if (rc == -2) {
			problem(ctx, i, e->source, v, "row is too long");
		}
		if (rc < 0) {
			no_value(out, i);
			problems++;
			continue;
		}
		out->offsets[i] = at;
		out->values[i] = v;
	}
	/* The arena may have moved while it grew: point values into it last. */
	for (size_t i = 0; i < m->n; i++)
		if (out->offsets[i] < IN_PLACE)
			out->values[i].p = out->arena.data + out->offsets[i];
	return problems;
}
