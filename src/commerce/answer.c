#include "config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "commerce/answer.h"
#include "util/xalloc.h"

void answer_init(struct answer *a)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->message, 64 * 1024);
}

void answer_reset(struct answer *a)
{
	for (size_t i = 0; i < a->nrows; i++)
		free(a->rows[i].message);
	free(a->rows);
	a->rows = NULL;
	a->nrows = 0;
	a->has_processed = 0;
	a->processed = 0;
	a->http_status = 0;
	a->retry_after = 0;
	a->cls = ANSWER_DONE;
	buf_reset(&a->message);
}

void answer_release(struct answer *a)
{
	answer_reset(a);
	buf_release(&a->message);
}

void fill_placeholders(const char *tmpl, const void *params, struct buf *out)
{
	const json_t *p = params;

	for (const char *s = tmpl; *s; s++) {
		const char *start = s + 1;
		size_t n = 0;
		const json_t *v = NULL;

		if (*s != '%') {
			buf_addch(out, *s);
			continue;
		}
		while ((start[n] >= 'a' && start[n] <= 'z') || (start[n] >= 'A' && start[n] <= 'Z') ||
		       (start[n] >= '0' && start[n] <= '9') || start[n] == '_')
			n++;
		if (n && json_is_array(p) && start[0] >= '1' && start[0] <= '9') {
			v = json_array_get(p, (size_t)strtoul(start, NULL, 10) - 1);
		} else if (n && json_is_object(p)) {
			char *key = xstrndup(start, n);
			v = json_object_get(p, key);
			free(key);
		}
		if (v == NULL) {
			buf_addch(out, '%');
			continue;
		}
		if (json_is_string(v))
			buf_addstr(out, json_string_value(v));
		else {
			char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			buf_addstr(out, t ? t : "");
			free(t);
		}
		s += n;
	}
}

static void add_row(struct answer *a, unsigned long row, const char *msg)
{
	a->rows = xreallocarray(a->rows, a->nrows + 1, sizeof(*a->rows));
	a->rows[a->nrows].row = row;
	a->rows[a->nrows].message = xstrdup(msg);
	a->nrows++;
}

/*
 * Sentences with which a StartImport refuses a request for rows it does not
 * name: processValidationResult() of earlier releases, and execute() after
 * importSource() when stop-on-errors found more errors than allowedErrorCount
 * (releases whose processValidationResult took $errors by value).
 */
static const char *const unnamed_rows[] = {
	"Data validation failed.",
	"Maximum error count has been reached",
};

/*
 * What ImportExport's Entity/AbstractEntity::validateData says of a header it
 * rejects (its $errorMessageTemplates for absent, unknown, empty and malformed
 * columns). Such an error has no row number, so StartImport names it
 * "Row 1: ..." (getRowNumber() null, + 1), on every release and strategy: it
 * refuses the batch whole, and says nothing of the batch's first row.
 */
static const char *const header_problems[] = {
	"We can't find required columns: ",
	"Header contains invalid attribute(s): ",
	"Columns number: ",
	"Column names: ",
};

static int starts_with_one(const char *s, const char *const *prefixes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

static int says_rows_unnamed(const char *s)
{
	return starts_with_one(s, unnamed_rows, sizeof(unnamed_rows) / sizeof(unnamed_rows[0]));
}

static int says_header_problem(const char *s)
{
	return starts_with_one(s, header_problems,
			       sizeof(header_problems) / sizeof(header_problems[0]));
}

/* parse_strings: the 200 answer, an array of strings. */
static void parse_strings(struct answer *a, const json_t *arr)
{
	size_t i;
	const json_t *v;
	int refused = 0, unnamed = 0, header = 0;

	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		char *end;
		unsigned long n;

		if (s == NULL)
			continue;
		if (strncmp(s, "Entities Processed: ", 20) == 0) {
			n = strtoul(s + 20, &end, 10);
			if (*end == '\0') {
				a->processed = n;
				a->has_processed = 1;
				continue;
			}
		}
		if (strncmp(s, "Row ", 4) == 0) {
			n = strtoul(s + 4, &end, 10);
			if (n == 1 && end[0] == ':' && end[1] == ' ' &&
			    says_header_problem(end + 2)) {
				s = end + 2; /* the header's: told in Commerce's words */
				header = 1;
			} else if (n > 0 && end[0] == ':' && end[1] == ' ') {
				add_row(a, n, end + 2);
				continue;
			}
		}
		/* anything else is a sentence about the whole batch */
		unnamed |= says_rows_unnamed(s);
		if (a->message.len)
			buf_addstr(&a->message, " ");
		buf_addstr(&a->message, s);
		refused = 1;
	}
	/* applied when Commerce says how many rows it processed, even with a remark;
	   a header it rejects refuses the batch, whatever rows it names */
	a->cls = a->has_processed ? ANSWER_DONE
		 : header        ? ANSWER_REFUSED
		 : a->nrows      ? ANSWER_ROWS
		 : unnamed       ? ANSWER_UNNAMED
				 : ANSWER_REFUSED;
	if (!a->has_processed && !refused && a->nrows == 0)
		buf_addstr(&a->message, "Commerce answered without saying how many rows it processed");
}

void answer_parse(struct answer *a, long status, const char *body, size_t len)
{
	json_error_t je;
	json_t *j = body && len ? json_loadb(body, len, JSON_DECODE_ANY, &je) : NULL;

	answer_reset(a);
	a->http_status = status;
	if (status == 200 && json_is_array(j)) {
		parse_strings(a, j);
	} else if (status == 429 || status >= 500) {
		a->cls = ANSWER_TRANSIENT;
		buf_printf(&a->message, "Commerce answered HTTP %ld", status);
	} else {
		const json_t *m = json_object_get(j, "message");
		a->cls = status == 401 ? ANSWER_AUTH : ANSWER_REFUSED;
		if (json_is_string(m)) {
			fill_placeholders(json_string_value(m), json_object_get(j, "parameters"),
					  &a->message);
		} else if (status == 200) {
			buf_addstr(&a->message, "Commerce's answer is not a list of messages");
		} else {
			buf_printf(&a->message, "Commerce answered HTTP %ld", status);
		}
		if (status != 200 && strstr(buf_cstr(&a->message), "HTTP") == NULL) {
			char *msg = buf_detach(&a->message);
			buf_printf(&a->message, "HTTP %ld: %s", status, msg);
			free(msg);
		}
	}
	json_decref(j);
}

char *answer_to_json(const struct answer *a)
{
	json_t *o = json_object(), *rows = json_array();
	char *s;

	for (size_t i = 0; i < a->nrows; i++)
		json_array_append_new(rows, json_pack("[I,s]", (json_int_t)a->rows[i].row,
						      a->rows[i].message));
	json_object_set_new(o, "class", json_integer(a->cls));
	json_object_set_new(o, "http", json_integer(a->http_status));
	json_object_set_new(o, "processed", json_integer((json_int_t)a->processed));
	json_object_set_new(o, "has_processed", json_boolean(a->has_processed));
	json_object_set_new(o, "message", json_string(buf_cstr(&a->message)));
	json_object_set_new(o, "rows", rows);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

int answer_from_json(struct answer *a, const char *json)
{
	json_t *o = json_loads(json, 0, NULL), *rows, *r;
	size_t i;

	answer_reset(a);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	a->cls = (enum answer_class)json_integer_value(json_object_get(o, "class"));
	a->http_status = (long)json_integer_value(json_object_get(o, "http"));
	a->processed = (unsigned long)json_integer_value(json_object_get(o, "processed"));
	a->has_processed = json_is_true(json_object_get(o, "has_processed"));
	buf_addstr(&a->message, json_string_value(json_object_get(o, "message"))
					? json_string_value(json_object_get(o, "message"))
					: "");
	rows = json_object_get(o, "rows");
	json_array_foreach(rows, i, r) {
		const char *m = json_string_value(json_array_get(r, 1));
		add_row(a, (unsigned long)json_integer_value(json_array_get(r, 0)), m ? m : "");
	}
	json_decref(o);
	return 0;
}
