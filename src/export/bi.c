#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "commerce/client.h"
#include "queue/ledger.h"
#include "queue/notes.h"
#include "queue/spool.h"
#include "export/bi.h"
#include "export/search.h"
#include "lib/batch.h"
#include "lib/conf.h"
#include "lib/report.h"
#include "util/publish.h"
#include "util/xalloc.h"

struct sheet {
	const char *entity;
	const char *const *columns; /* JSON keys, in file order */
	gzFile gz;
	char *path;
	unsigned long rows;
};

static const char *const order_cols[] = {"entity_id",		"increment_id", "status",
					 "created_at",		"updated_at",	"customer_email",
					 "order_currency_code", "grand_total",	NULL};
static const char *const item_cols[] = {"order_increment_id", "item_id", "sku",	      "name",
					"qty_ordered",	      "price",	 "row_total", NULL};
static const char *const customer_cols[] = {"id",	  "email",	"firstname",
					    "lastname",	  "group_id",	"website_id",
					    "created_at", "updated_at", NULL};
static const char *const product_cols[] = {"id",     "sku",	   "name",	 "type_id", "price",
					   "status", "created_at", "updated_at", NULL};

static int write_row(struct sheet *s, const json_t *o, const json_t *parent)
{
	struct buf line = BUF_INIT(BUF_NOCAP), t = BUF_INIT(BUF_NOCAP);
	int rc;

	for (const char *const *c = s->columns; *c; c++) {
		buf_reset(&t);
		if (parent && strcmp(*c, "order_increment_id") == 0)
			json_text(&t, json_object_get(parent, "increment_id"));
		else
			json_text(&t, json_object_get(o, *c));
		if (c != s->columns)
			buf_addch(&line, ',');
		csv_append_field(&line, buf_cstr(&t), t.len);
	}
	buf_addch(&line, '\n');
	rc = gzwrite(s->gz, line.data, (unsigned)line.len) == (int)line.len ? 0 : -1;
	s->rows++;
	buf_release(&line);
	buf_release(&t);
	return rc;
}

static int open_sheet(struct sheet *s, const char *dir, struct buf *err)
{
	struct buf head = BUF_INIT(BUF_NOCAP);

	s->path = xasprintf("%s/%s.csv.gz", dir, s->entity);
	s->gz = gzopen(s->path, "wb6");
	if (s->gz == NULL) {
		buf_printf(err, "cannot write %s: %s", s->path, strerror(errno));
		return -1;
	}
	for (const char *const *c = s->columns; *c; c++)
		buf_printf(&head, "%s%s", c == s->columns ? "" : ",", *c);
	buf_addch(&head, '\n');
	gzwrite(s->gz, head.data, (unsigned)head.len);
	buf_release(&head);
	return 0;
}

/* fetch: every record of resource whose field lies in [from, to), by key. */
static int fetch(struct commerce_client *client, const char *resource, const char *field,
		 const char *idfield, const char *from, const char *to, unsigned long page_size,
		 int (*each)(void *ctx, const json_t *o), void *ctx, struct buf *err)
{
	struct search_key key;
	unsigned long pages = 0;

	snprintf(key.t, sizeof(key.t), "%s", from);
	key.id = 0;
	/* the first key is (from, 0): ids start at 1, so records at `from` itself count */
	return search_by_key(client, resource, field, idfield, &key, to, page_size, each, ctx,
			     &pages, err);
}

struct order_sheets {
	struct sheet *orders, *items;
};

static int each_order(void *ctx, const json_t *o)
{
	struct order_sheets *s = ctx;
	size_t i;
	const json_t *it;

	if (s->orders && write_row(s->orders, o, NULL) < 0)
		return -1;
	if (s->items)
		json_array_foreach(json_object_get(o, "items"), i,
				   it) if (write_row(s->items, it, o) < 0) return -1;
	return 0;
}

static int each_row(void *ctx, const json_t *o)
{
	return write_row(ctx, o, NULL);
}

/* swap_in: tmp becomes dir/day whole; an earlier day folder goes. */
static int swap_in(const char *tmp, const char *final, struct buf *err)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST && renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_EXCHANGE) == 0) {
		remove_tree(tmp); /* the old day, now at the dot-name */
		return 0;
	}
	buf_printf(err, "cannot put %s in place: %s", final, strerror(errno));
	return -1;
}

/* day_period: the UTC day "YYYY-MM-DD" as [from, to), "YYYY-MM-DD 00:00:00" both. */
static int day_period(const char *day, char from[32], char to[32], struct buf *err)
{
	struct tm tm;
	time_t start;
	int y, m, d;

	if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3) {
		buf_printf(err, "'%s' is not a day like 2026-11-26", day);
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	start = timegm(&tm);
	strftime(from, 32, "%Y-%m-%d 00:00:00", gmtime_r(&start, &tm));
	start += 86400;
	strftime(to, 32, "%Y-%m-%d 00:00:00", gmtime_r(&start, &tm));
	return 0;
}

/* open_sheets: a sheet in dir for each entity the export asks for; the others stay closed. */
static int open_sheets(struct sheet sheets[4], const struct export *e, const char *dir,
		       struct buf *err)
{
	for (int i = 0; i < 4; i++)
		if (strlist_has(&e->entities, sheets[i].entity) &&
		    open_sheet(&sheets[i], dir, err) < 0)
			return -1;
	return 0;
}

/* fetch_sheets: the day's records into the open sheets (orders and their items in one walk). */
static int fetch_sheets(struct commerce_client *client, const struct export *e,
			struct sheet sheets[4], const char *from, const char *to, struct buf *err)
{
	if (sheets[0].gz || sheets[1].gz) {
		struct order_sheets os = {sheets[0].gz ? &sheets[0] : NULL,
					  sheets[1].gz ? &sheets[1] : NULL};
		if (fetch(client, "orders", "created_at", "entity_id", from, to, e->page_size,
			  each_order, &os, err) < 0)
			return -1;
	}
	if (sheets[2].gz && fetch(client, "customers/search", "updated_at", "id", from, to,
				  e->page_size, each_row, &sheets[2], err) < 0)
		return -1;
	if (sheets[3].gz && fetch(client, "products", "updated_at", "id", from, to, e->page_size,
				  each_row, &sheets[3], err) < 0)
		return -1;
	return 0;
}

/* close_sheet: s finished and fsync'd, its manifest entry appended to files. */
static int close_sheet(struct sheet *s, json_t *files, unsigned long *rows, struct buf *err)
{
	char hex[65];
	struct stat st;
	int fd;

	if (gzclose(s->gz) != Z_OK) {
		s->gz = NULL;
		buf_printf(err, "cannot write %s", s->path);
		return -1;
	}
	s->gz = NULL;
	fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || durable_fsync(fd) < 0 || fstat(fd, &st) < 0 ||
	    sha256_file(s->path, hex, err) < 0) {
		if (fd >= 0)
			close(fd);
		buf_printf(err, "cannot finish %s", s->path);
		return -1;
	}
	close(fd);
	*rows += s->rows;
	json_array_append_new(files,
			      json_pack("{s:s,s:s,s:I,s:I,s:s}", "entity", s->entity, "file",
					strrchr(s->path, '/') + 1, "rows", (json_int_t)s->rows,
					"bytes", (json_int_t)st.st_size, "sha256", hex));
	return 0;
}

/* close_sheets: every open sheet closed, in order, into files. */
static int close_sheets(struct sheet sheets[4], json_t *files, unsigned long *rows, struct buf *err)
{
	for (int i = 0; i < 4; i++)
		if (sheets[i].gz && close_sheet(&sheets[i], files, rows, err) < 0)
			return -1;
	return 0;
}

/* write_manifest: dir/manifest.json for the day, taking files. */
static int write_manifest(const char *dir, const char *day, const char *from, const char *to,
			  json_t *files, struct buf *err)
{
	json_t *manifest = json_object();
	char gen[32], *mpath, *text;
	int bad;

	iso_time(time(NULL), gen);
	json_object_set_new(manifest, "day", json_string(day));
	json_object_set_new(manifest, "period",
			    json_pack("{s:s,s:s,s:s}", "from", from, "to", to, "timezone", "UTC"));
	json_object_set_new(manifest, "generated_at", json_string(gen));
	json_object_set_new(manifest, "files", files);
	/* the manifest last: a loader waiting for it never reads half a day */
	mpath = xasprintf("%s/manifest.json", dir);
	text = json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	bad = text == NULL ||
	      publish_bytes(mpath, text, strlen(text), 0640, PUBLISH_DIR_LATER, err) < 0;
	if (bad && err->len == 0)
		buf_printf(err, "cannot write %s", mpath);
	free(text);
	free(mpath);
	json_decref(manifest);
	return bad ? -1 : 0;
}

/* link_day: the day's files (those that exist) from final into otmp, linked or copied. */
static int link_day(const struct sheet sheets[4], const char *final, const char *otmp,
		    struct buf *err)
{
	int bad = 0;

	for (int k = 0; !bad && k < 5; k++) {
		const char *name = k == 4 ? "manifest.json" : sheets[k].entity;
		char *from_f = k == 4 ? xasprintf("%s/manifest.json", final)
				      : xasprintf("%s/%s.csv.gz", final, name);
		char *to_f = k == 4 ? xasprintf("%s/manifest.json", otmp)
				    : xasprintf("%s/%s.csv.gz", otmp, name);
		if (access(from_f, F_OK) == 0)
			bad = spool_link_or_copy(from_f, to_f, err) < 0;
		free(from_f);
		free(to_f);
	}
	return bad ? -1 : 0;
}

/* link_partners: the other partners get the same day: linked files, swapped in the same way. */
static int link_partners(const struct conf *c, const struct export *e, const char *day,
			 const struct sheet sheets[4], const char *final, struct buf *err)
{
	for (size_t i = 1; i < e->partners.n; i++) {
		char *odir = xasprintf("%s/%s/%s", c->spool, e->partners.v[i], e->dir);
		char *otmp = xasprintf("%s/.%s.tmp", odir, day),
		     *ofinal = xasprintf("%s/%s", odir, day);
		int bad;

		remove_tree(otmp);
		bad = mkdirs(otmp, 0750, err) < 0 || link_day(sheets, final, otmp, err) < 0 ||
		      swap_in(otmp, ofinal, err) < 0;
		free(odir);
		free(otmp);
		free(ofinal);
		if (bad)
			return -1;
	}
	return 0;
}

/* note_last_day: the ledger remembers the latest day exported, never an earlier one. */
static void note_last_day(struct ledger *l, const struct export *e, const char *day)
{
	struct note_key key = { "" };
	char last[16] = "";

	ledger_note_get(l, note_export_last_day(&key, e->name), last, sizeof(last));
	if (strcmp(day, last) > 0)
		ledger_note_set(l, key.text, day);
}

int export_bi(const struct conf *c, const struct export *e, struct ledger *l, const char *day,
	      unsigned long *rows, struct buf *err)
{
	struct sheet sheets[4] = {
	    {"orders", order_cols, NULL, NULL, 0},
	    {"order_items", item_cols, NULL, NULL, 0},
	    {"customers", customer_cols, NULL, NULL, 0},
	    {"products", product_cols, NULL, NULL, 0},
	};
	const struct target *t = conf_target(c, e->target);
	struct commerce_client *client = NULL;
	char from[32], to[32];
	char *dir = NULL, *tmp = NULL, *final = NULL;
	json_t *files;
	int rc = -1;

	*rows = 0;
	if (day_period(day, from, to, err) < 0)
		return -1;
	client = commerce_client_new(t, err);
	if (client == NULL)
		return -1;
	dir = xasprintf("%s/%s/%s", c->spool, e->partners.v[0], e->dir);
	tmp = xasprintf("%s/.%s.tmp", dir, day);
	final = xasprintf("%s/%s", dir, day);
	remove_tree(tmp);
	if (mkdirs(tmp, 0750, err) < 0 || open_sheets(sheets, e, tmp, err) < 0 ||
	    fetch_sheets(client, e, sheets, from, to, err) < 0)
		goto out;
	files = json_array();
	if (close_sheets(sheets, files, rows, err) < 0) {
		json_decref(files);
		goto out;
	}
	if (write_manifest(tmp, day, from, to, files, err) < 0)
		goto out;
	if (fsync_dir(tmp) < 0 || swap_in(tmp, final, err) < 0 || fsync_dir(dir) < 0)
		goto out;
	if (link_partners(c, e, day, sheets, final, err) < 0)
		goto out;
	note_last_day(l, e, day);
	rc = 0;
out:
	for (int i = 0; i < 4; i++) {
		if (sheets[i].gz)
			gzclose(sheets[i].gz);
		free(sheets[i].path);
	}
	if (rc < 0 && tmp)
		remove_tree(tmp);
	commerce_client_free(client);
	free(dir);
	free(tmp);
	free(final);
	return rc;
}

int bi_next_day(struct ledger *l, const struct export *e, time_t now, char day[11])
{
	struct note_key key = { "" };
	char last[16] = "";
	time_t yesterday = now - 86400, t;
	struct tm tm;
	int y, m, d;

	ledger_note_get(l, note_export_last_day(&key, e->name), last, sizeof(last));
	if (last[0] == '\0' || sscanf(last, "%4d-%2d-%2d", &y, &m, &d) != 3) {
		strftime(day, 11, "%Y-%m-%d", gmtime_r(&yesterday, &tm));
		return 1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + 1;
	t = timegm(&tm);
	if (t > yesterday)
		return 0; /* yesterday is done */
	strftime(day, 11, "%Y-%m-%d", gmtime_r(&t, &tm));
	return 1;
}

int bi_day_due(const struct export *e, const char *day, time_t now)
{
	struct tm tm;
	int y, m, d;

	if (e->at_minutes < 0)
		return 1; /* every: as soon as the day is over (bi_next_day stops at yesterday) */
	if (sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d + 1;
	tm.tm_hour = e->at_minutes / 60;
	tm.tm_min = e->at_minutes % 60;
	tm.tm_isdst = -1; /* the local clock of that day, whatever its offset */
	return now >= mktime(&tm);
}
