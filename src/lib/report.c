#include "config.h"

#include <stdlib.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/batch.h"
#include "lib/report.h"
#include "util/xalloc.h"

void iso_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int csv_cell_is_formula(const char *v, size_t len)
{
	return len > 0 && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' ||
			   v[0] == '\t' || v[0] == '\r');
}

/* write_cell: one errors.csv cell, quoted as needed, formulas neutralised. */
static void write_cell(struct buf *b, const char *v, size_t len)
{
	if (csv_cell_is_formula(v, len)) {
		struct buf t = BUF_INIT(BUF_NOCAP);
		buf_addch(&t, '\'');
		buf_add(&t, v, len);
		csv_append_field(b, t.data, t.len);
		buf_release(&t);
	} else {
		csv_append_field(b, v, len);
	}
}

char *report_base(const char *name, size_t room)
{
	size_t n = strlen(name), keep;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: tells apart names cut alike */

	if (n + room <= NAME_MAX)
		return xstrdup(name);
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
	keep = NAME_MAX - room - 17;
	while (keep > 0 && ((unsigned char)name[keep] & 0xc0) == 0x80)
		keep--; /* never half a UTF-8 character */
	return xasprintf("%.*s~%016llx", (int)keep, name, (unsigned long long)h);
}

/* report_path: dir/F.what, F shortened to fit as report_base says. */
static char *report_path(const char *dir, const char *name, const char *what)
{
	char *base = report_base(name, strlen(what) + 1);
	char *path = xasprintf("%s/%s.%s", dir, base, what);

	free(base);
	return path;
}

char *report_result_path(const char *dir, const char *name)
{
	return report_path(dir, name, "result.json");
}

char *report_errors_path(const char *dir, const char *name)
{
	return report_path(dir, name, "errors.csv");
}

int report_open(struct report *r, const char *dir, const char *name, struct buf *err)
{
	static const char head[] = "\xef\xbb\xbfline,column,value,message\r\n";
	char *path = report_errors_path(dir, name);
	struct buf scratch = BUF_INIT(1024);

	memset(r, 0, sizeof(*r));
	r->dir = xstrdup(dir);
	r->name = xstrdup(name);
	r->messages = json_array();
	iso_time(time(NULL), r->received);
	/* the directory may be the partner's to write in: the publisher's temporaries are
	   created O_EXCL under random names, so nothing planted there is written through */
	if (publish_open(&r->errors_file, path, 0644, PUBLISH_DIR_LATER, &scratch) < 0 ||
	    (r->errors = publish_stream(&r->errors_file)) == NULL) {
		buf_printf(err, "cannot write a report in %s: %s", dir, strerror(errno));
		buf_release(&scratch);
		free(path);
		report_release(r);
		return -1;
	}
	free(path);
	buf_release(&scratch);
	fwrite(head, 1, sizeof(head) - 1, r->errors);
	return 0;
}

void report_problem(struct report *r, const char *line, const char *column, const char *value,
		    size_t value_len, const char *message)
{
	struct buf b = BUF_INIT(BUF_NOCAP);

	r->nproblems++;
	write_cell(&b, line, strlen(line));
	buf_addch(&b, ',');
	write_cell(&b, column, strlen(column));
	buf_addch(&b, ',');
	write_cell(&b, value, value_len);
	buf_addch(&b, ',');
	write_cell(&b, message, strlen(message));
	buf_addstr(&b, "\r\n");
	fwrite(b.data, 1, b.len, r->errors);
	buf_release(&b);
}

void report_message(struct report *r, const char *msg)
{
	if (json_array_size(r->messages) < 100)
		json_array_append_new(r->messages, json_string(msg));
}

int report_take_errors(struct report *r, const char *errors_csv)
{
	FILE *fp = fopen(errors_csv, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int header = 1, quoted = 0;

	if (fp == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((n = getline(&line, &cap, fp)) > 0) {
		/* a record may span lines inside quotes: count records, not lines */
		for (ssize_t i = 0; i < n; i++)
			if (line[i] == '"')
				quoted = !quoted;
		if (!header)
			fwrite(line, 1, (size_t)n, r->errors);
		if (!quoted) {
			if (!header)
				r->nproblems++;
			header = 0;
		}
	}
	free(line);
	fclose(fp);
	return 0;
}

int report_finish(struct report *r, const struct report_summary *s, struct buf *err)
{
	char finished[32];
	char *final_errors = report_errors_path(r->dir, r->name);
	char *result = report_result_path(r->dir, r->name);
	struct publish out;
	json_t *o;
	FILE *fp;
	int rc = -1;

	iso_time(time(NULL), finished);
	r->errors = NULL;
	if (r->nproblems) {
		if (publish_commit(&r->errors_file, err) < 0)
			goto out;
	} else {
		publish_abort(&r->errors_file);
		unlink(final_errors);
	}
	o = json_object();
	json_object_set_new(o, "id", s->id < 0 ? json_null() : json_integer(s->id));
	json_object_set_new(o, "file", json_string(r->name));
	json_object_set_new(o, "feed", json_string(s->feed));
	json_object_set_new(o, "state", json_string(s->state));
	json_object_set_new(o, "rows", json_integer((json_int_t)s->rows));
	json_object_set_new(o, "rows_ok", json_integer((json_int_t)s->rows_ok));
	json_object_set_new(o, "rows_rejected", json_integer((json_int_t)s->rows_rejected));
	json_object_set_new(o, "batches", json_integer((json_int_t)s->batches));
	if (s->more)
		json_object_update(o, s->more);
	json_object_set(o, "messages", r->messages);
	json_object_set_new(o, "received", json_string(r->received));
	json_object_set_new(o, "finished", json_string(finished));
	/* committed last, with the directory's fsync that makes both renames durable */
	if (publish_open(&out, result, 0644, 0, err) < 0) {
		json_decref(o);
		goto out;
	}
	fp = publish_stream(&out);
	if (fp == NULL || json_dumpf(o, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    fputc('\n', fp) == EOF) {
		buf_printf(err, "cannot write %s: %s", result, strerror(errno));
		json_decref(o);
		publish_abort(&out);
		goto out;
	}
	json_decref(o);
	if (publish_commit(&out, err) < 0)
		goto out;
	rc = 0;
out:
	free(final_errors);
	free(result);
	return rc;
}

void report_release(struct report *r)
{
	if (r->errors) { /* not finished: its errors file never appears */
		publish_abort(&r->errors_file);
		r->errors = NULL;
	}
	free(r->dir);
	free(r->name);
	json_decref(r->messages);
	memset(r, 0, sizeof(*r));
}
