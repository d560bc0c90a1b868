#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/mapping.h"
#include "lib/parsed.h"
#include "parse/parcel.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/publish.h"
#include "util/xalloc.h"

#define LOGGED_PROBLEMS 20
/* SUFFIX_ROOM: what follows F in the out dir, at most: ".F.batch-NNNNNNNNNN.lines.tmp" */
#define SUFFIX_ROOM 32

/* batch_path: F.batch-NNNN.csv, or a sidecar of it: .F.batch-NNNN.SUFFIX */
static char *batch_path(const char *dir, const char *name, unsigned seq, const char *sidecar)
{
	char *base = report_base(name, SUFFIX_ROOM), *path;

	if (sidecar)
		path = xasprintf("%s/.%s.batch-%04u.%s", dir, base, seq, sidecar);
	else
		path = xasprintf("%s/%s.batch-%04u.csv", dir, base, seq);
	free(base);
	return path;
}

char *parcel_batch_path(const char *dir, const char *name, unsigned seq)
{
	return batch_path(dir, name, seq, NULL);
}

char *parcel_lines_path(const char *dir, const char *name, unsigned seq)
{
	return batch_path(dir, name, seq, "lines");
}

char *parcel_sums_path(const char *dir, const char *name, unsigned seq)
{
	return batch_path(dir, name, seq, "sums");
}

char *parcel_members_path(const char *dir, const char *name)
{
	char *base = report_base(name, SUFFIX_ROOM);
	char *path = xasprintf("%s/.%s.members", dir, base);

	free(base);
	return path;
}

/* put: path appears whole with the bytes, made durable by parcel_sync with the rest */
static int put(const char *path, const void *p, size_t n, int durable)
{
	struct buf err = BUF_INIT(1024);
	int rc;

	(void)durable; /* one syncfs for the parcel (parcel_sync), not an fsync a file */
	rc = publish_bytes(path, p, n, 0644, PUBLISH_NOSYNC, &err);

	if (rc < 0)
		log_simple(LOG_ERROR, "write_failed", "%s", buf_cstr(&err));
	buf_release(&err);
	return rc;
}

int parcel_put_batch(const char *dir, const char *name, const struct batch *b, int origins)
{
	char *path = parcel_batch_path(dir, name, b->seq);
	int rc = put(path, b->csv, b->len, origins);

	free(path);
	if (rc == 0 && origins) {
		path = parcel_lines_path(dir, name, b->seq);
		rc = put(path, b->origin, b->rows * sizeof(*b->origin), 1);
		free(path);
	}
	if (rc == 0 && origins && b->sum) {
		path = parcel_sums_path(dir, name, b->seq);
		rc = put(path, b->sum, b->rows * sizeof(*b->sum), 1);
		free(path);
	}
	return rc;
}

int parcel_sync(const char *dir)
{
	if (durable_syncfs(dir) == 0)
		return 0;
	log_simple(LOG_ERROR, "write_failed", "cannot make %s durable: %s", dir, strerror(errno));
	return -1;
}

int parcel_put_members(const char *dir, const char *name, const struct strlist *members)
{
	struct buf names = BUF_INIT(BUF_NOCAP);
	char *path = parcel_members_path(dir, name);
	int rc;

	for (size_t i = 0; i < members->n; i++) /* NUL-ended: a name may hold a newline */
		buf_add(&names, members->v[i], strlen(members->v[i]) + 1);
	rc = put(path, names.data, names.len, 1);
	free(path);
	buf_release(&names);
	return rc;
}

/*
 * parcel_remove_batches: F.batch-NNNN.csv (and sidecars) numbered above keep: an
 * earlier, longer run's, or all of them (keep = 0). Batches this run wrote
 * replaced the earlier ones of the same number by rename.
 */
void parcel_remove_batches(const char *dir, const char *name, unsigned long keep)
{
	char *base = report_base(name, SUFFIX_ROOM);
	DIR *dh = opendir(dir);
	struct dirent *e;

	/* by prefix, not glob(3): a partner's name may hold * or [ */
	while (dh && (e = readdir(dh)) != NULL) {
		int lines = e->d_name[0] == '.';
		const char *p = e->d_name + lines;
		size_t n = strlen(base);
		char *end;
		unsigned long seq;

		if (strncmp(p, base, n) != 0 || strncmp(p + n, ".batch-", 7) != 0)
			continue;
		seq = strtoul(p + n + 7, &end, 10);
		if (end - (p + n + 7) >= 4 &&
		    (lines ? strcmp(end, ".lines") == 0 || strcmp(end, ".sums") == 0
			   : strcmp(end, ".csv") == 0) &&
		    seq > keep) {
			char *path = xasprintf("%s/%s", dir, e->d_name);
			unlink(path);
			free(path);
		}
	}
	if (dh)
		closedir(dh);
	free(base);
}

/* read_child: parsed_read, a file that is not there told like the rest */
static int read_child(const char *path, struct buf *out, struct buf *err)
{
	int rc = parsed_read(path, out, err);

	if (rc > 0)
		buf_printf(err, "cannot read %s: %s", path, strerror(ENOENT));
	return rc == 0 ? 0 : -1;
}

int parcel_read_batch(const struct parcel *p, unsigned seq, struct buf *csv,
		      struct batch_origin **origin, size_t *rows, struct buf *err)
{
	char *path = parcel_batch_path(p->dir, p->name, seq);
	struct buf lines = BUF_INIT(BUF_NOCAP);
	int rc = -1;

	if (read_child(path, csv, err) < 0)
		goto out;
	free(path);
	path = parcel_lines_path(p->dir, p->name, seq);
	if (read_child(path, &lines, err) < 0)
		goto out;
	*rows = lines.len / sizeof(struct batch_origin);
	if (*rows == 0 || lines.len % sizeof(struct batch_origin) != 0) {
		/* every batch has rows: an empty or cut index is damage (a power loss) */
		buf_printf(err, "the line index %s is damaged (%zu bytes)", path, lines.len);
		goto out;
	}
	free(*origin);
	*origin = (struct batch_origin *)buf_detach(&lines);
	rc = 0;
out:
	free(path);
	buf_release(&lines);
	return rc;
}

int parcel_read_sums(const struct parcel *p, unsigned seq, const struct buf *csv, size_t rows,
		     struct batch_sum **sum, struct buf *err)
{
	char *path = parcel_sums_path(p->dir, p->name, seq);
	struct buf data = BUF_INIT(BUF_NOCAP);
	const struct batch_sum *s;
	size_t at;
	int rc = -1;

	if (read_child(path, &data, err) < 0)
		goto out;
	if (data.len != rows * sizeof(*s)) {
		buf_printf(err, "the sums %s are damaged (%zu bytes for %zu rows)", path, data.len,
			   rows);
		goto out;
	}
	/* the rows' lines, back to back after the header, to the batch's end */
	s = (const struct batch_sum *)(const void *)data.data;
	at = rows ? s[0].at : 0;
	for (size_t i = 0; i < rows; i++) {
		if (s[i].at != at || at == 0 || at >= csv->len || s[i].len == 0 ||
		    s[i].len > csv->len - at || csv->data[at - 1] != '\n' ||
		    csv->data[at + s[i].len - 1] != '\n') {
			buf_printf(err, "the sums %s do not fit their batch (row %zu)", path,
				   i + 1);
			goto out;
		}
		at += s[i].len;
	}
	if (at != csv->len) {
		buf_printf(err, "the sums %s do not fit their batch (its end)", path);
		goto out;
	}
	free(*sum);
	*sum = (struct batch_sum *)(void *)buf_detach(&data);
	rc = 0;
out:
	free(path);
	buf_release(&data);
	return rc;
}

struct json_t *parcel_result(const char *dir, const char *name, struct buf *err)
{
	char *path = report_result_path(dir, name);
	struct json_t *r = parsed_result_load(path, err);

	free(path);
	return r;
}

void parcel_load_members(struct parcel *p)
{
	char *path = parcel_members_path(p->dir, p->name);

	parsed_members_load(path, &p->members);
	free(path);
}

void parcel_line(const struct parcel *p, uint32_t member, unsigned long line, char *out,
		 size_t size)
{
	if (member > 0 && member <= p->members.n)
		snprintf(out, size, "%s:%lu", p->members.v[member - 1], line);
	else
		snprintf(out, size, "%lu", line);
}

const char *parcel_partner_column(const struct parcel *p, const char *commerce)
{
	const struct feed *f = p->feed;

	if (f->map == NULL)
		return commerce;
	for (size_t i = 0; i < mapping_count(f->map); i++)
		if (strcmp(mapping_column(f->map, i), commerce) == 0)
			return mapping_source(f->map, i) ? mapping_source(f->map, i) : commerce;
	return commerce;
}

void parcel_problem(struct parcel *p, const char *line, const char *column, const char *value,
		    size_t value_len, const char *message)
{
	report_problem(p->report, line, column, value, value_len, message);
	if (++p->problems <= LOGGED_PROBLEMS) {
		struct logline l;
		log_begin(&l, LOG_WARN, "row_rejected");
		log_kv(&l, "file", p->path);
		log_kv(&l, "feed", p->feed->name);
		log_kv(&l, "line", line);
		log_kv(&l, "column", column);
		log_kvn(&l, "value", value, value_len);
		log_kv(&l, "msg", message);
		log_end(&l);
	} else if (p->problems == LOGGED_PROBLEMS + 1) {
		log_simple(LOG_WARN, "row_rejected",
			   "%s: more problems; only the report lists them all", p->path);
	}
}

void parcel_message(struct parcel *p, const char *msg)
{
	struct logline l;

	report_message(p->report, msg);
	log_begin(&l, LOG_WARN, "file_problem");
	log_kv(&l, "file", p->path);
	log_kv(&l, "feed", p->feed->name);
	log_kv(&l, "msg", msg);
	log_end(&l);
}

void parcel_release(struct parcel *p)
{
	strlist_clear(&p->members);
}
