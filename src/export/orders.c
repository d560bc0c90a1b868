#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commerce/client.h"
#include "queue/ledger.h"
#include "queue/notes.h"
#include "queue/spool.h"
#include "export/orders.h"
#include "export/search.h"
#include "lib/batch.h"
#include "lib/conf.h"
#include "util/io.h"
#include "util/log.h"
#include "util/publish.h"
#include "util/xalloc.h"

static const char *const csv_columns[] = {
    "increment_id",   "status",	     "created_at",  "updated_at",
    "customer_email", "currency",    "grand_total", "ship_firstname",
    "ship_lastname",  "ship_street", "ship_city",   "ship_postcode",
    "ship_country",   "sku",	     "name",	    "qty",
    "price",	      "row_total",   NULL,
};

static const json_t *shipping_address(const json_t *o)
{
	const json_t *sa =
	    json_object_get(json_object_get(o, "extension_attributes"), "shipping_assignments");

	return json_object_get(json_object_get(json_array_get(sa, 0), "shipping"), "address");
}

/* xml_text: v as XML character data, escaped. */
static void xml_text(struct buf *out, const json_t *v)
{
	struct buf t = BUF_INIT(BUF_NOCAP);

	json_text(&t, v);
	for (size_t i = 0; i < t.len; i++) {
		switch (t.data[i]) {
		case '&':
			buf_addstr(out, "&amp;");
			break;
		case '<':
			buf_addstr(out, "&lt;");
			break;
		case '>':
			buf_addstr(out, "&gt;");
			break;
		case '"':
			buf_addstr(out, "&quot;");
			break;
		default:
			buf_addch(out, t.data[i]);
			break;
		}
	}
	buf_release(&t);
}

static void xml_field(struct buf *out, const char *indent, const char *tag, const json_t *v)
{
	buf_printf(out, "%s<%s>", indent, tag);
	xml_text(out, v);
	buf_printf(out, "</%s>\n", tag);
}

static void csv_cell(struct buf *line, const json_t *v, int first)
{
	struct buf t = BUF_INIT(BUF_NOCAP);

	json_text(&t, v);
	if (!first)
		buf_addch(line, ',');
	csv_append_field(line, buf_cstr(&t), t.len);
	buf_release(&t);
}

/* write_order: one order in the export's format. */
static void write_order(const struct export *e, const json_t *o, struct buf *out,
			unsigned long *items)
{
	const json_t *ship = shipping_address(o), *list = json_object_get(o, "items"), *it;
	size_t i;

	if (e->format == EXPORT_JSONL) {
		char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		buf_addstr(out, s);
		buf_addch(out, '\n');
		free(s);
		*items += json_array_size(list);
		return;
	}
	if (e->format == EXPORT_XML) {
		buf_addstr(out, "  <Order>\n");
		xml_field(out, "    ", "IncrementId", json_object_get(o, "increment_id"));
		xml_field(out, "    ", "Status", json_object_get(o, "status"));
		xml_field(out, "    ", "CreatedAt", json_object_get(o, "created_at"));
		xml_field(out, "    ", "UpdatedAt", json_object_get(o, "updated_at"));
		xml_field(out, "    ", "CustomerEmail", json_object_get(o, "customer_email"));
		xml_field(out, "    ", "Currency", json_object_get(o, "order_currency_code"));
		xml_field(out, "    ", "GrandTotal", json_object_get(o, "grand_total"));
		buf_addstr(out, "    <ShippingAddress>\n");
		xml_field(out, "      ", "Firstname", json_object_get(ship, "firstname"));
		xml_field(out, "      ", "Lastname", json_object_get(ship, "lastname"));
		xml_field(out, "      ", "Street", json_object_get(ship, "street"));
		xml_field(out, "      ", "City", json_object_get(ship, "city"));
		xml_field(out, "      ", "Postcode", json_object_get(ship, "postcode"));
		xml_field(out, "      ", "Country", json_object_get(ship, "country_id"));
		buf_addstr(out, "    </ShippingAddress>\n    <Items>\n");
		json_array_foreach(list, i, it)
		{
			if (json_integer_value(json_object_get(it, "parent_item_id")))
				continue;
			buf_addstr(out, "      <Item>\n");
			xml_field(out, "        ", "Sku", json_object_get(it, "sku"));
			xml_field(out, "        ", "Name", json_object_get(it, "name"));
			xml_field(out, "        ", "Qty", json_object_get(it, "qty_ordered"));
			xml_field(out, "        ", "Price", json_object_get(it, "price"));
			xml_field(out, "        ", "RowTotal", json_object_get(it, "row_total"));
			buf_addstr(out, "      </Item>\n");
			(*items)++;
		}
		buf_addstr(out, "    </Items>\n  </Order>\n");
		return;
	}
	/* CSV: one line per item (children of configurable items are left out),
	   each carrying the order's columns */
	json_array_foreach(list, i, it)
	{
		if (json_integer_value(json_object_get(it, "parent_item_id")))
			continue;
		csv_cell(out, json_object_get(o, "increment_id"), 1);
		csv_cell(out, json_object_get(o, "status"), 0);
		csv_cell(out, json_object_get(o, "created_at"), 0);
		csv_cell(out, json_object_get(o, "updated_at"), 0);
		csv_cell(out, json_object_get(o, "customer_email"), 0);
		csv_cell(out, json_object_get(o, "order_currency_code"), 0);
		csv_cell(out, json_object_get(o, "grand_total"), 0);
		csv_cell(out, json_object_get(ship, "firstname"), 0);
		csv_cell(out, json_object_get(ship, "lastname"), 0);
		csv_cell(out, json_object_get(ship, "street"), 0);
		csv_cell(out, json_object_get(ship, "city"), 0);
		csv_cell(out, json_object_get(ship, "postcode"), 0);
		csv_cell(out, json_object_get(ship, "country_id"), 0);
		csv_cell(out, json_object_get(it, "sku"), 0);
		csv_cell(out, json_object_get(it, "name"), 0);
		csv_cell(out, json_object_get(it, "qty_ordered"), 0);
		csv_cell(out, json_object_get(it, "price"), 0);
		csv_cell(out, json_object_get(it, "row_total"), 0);
		buf_addch(out, '\n');
		(*items)++;
	}
}

static const char *extension(const struct export *e)
{
	return e->format == EXPORT_CSV ? "csv" : e->format == EXPORT_XML ? "xml" : "jsonl";
}

struct order_writer {
	const struct export *e;
	struct buf *out;
	struct export_result *res;
	int fd;
	const char *path;
	struct buf *err;
};

/* each_order: one order into the file, written out a page's worth at a time. */
static int each_order(void *ctx, const json_t *o)
{
	struct order_writer *w = ctx;

	write_order(w->e, o, w->out, &w->res->items);
	w->res->orders++;
	if (w->out->len < 1024 * 1024)
		return 0;
	if (write_all(w->fd, w->out->data, w->out->len) < 0) {
		buf_printf(w->err, "cannot write %s: %s; ", w->path, strerror(errno));
		return -1;
	}
	buf_reset(w->out);
	return 0;
}

/* watermark_load: the (updated_at, entity_id) the last run ended at, when there is one. */
static void watermark_load(struct ledger *l, const struct note_key *note, struct search_key *key)
{
	char mark[600];

	if (ledger_note_get(l, note->text, mark, sizeof(mark)) == 0 && strchr(mark, '|')) {
		snprintf(key->t, sizeof(key->t), "%.*s", (int)(strchr(mark, '|') - mark), mark);
		key->id = strtoll(strchr(mark, '|') + 1, NULL, 10);
	}
}

/* watermark_save: the run's last key, as "T|ID". */
static int watermark_save(struct ledger *l, const struct note_key *note,
			  const struct search_key *key, struct buf *err)
{
	char mark[600];

	snprintf(mark, sizeof(mark), "%s|%lld", key->t, key->id);
	if (ledger_note_set(l, note->text, mark) < 0) {
		buf_addstr(err, "the watermark could not be written");
		return -1;
	}
	return 0;
}

/* remove_leftovers: a run cut short (kill -9) left its dot-file: it never became the file. */
static void remove_leftovers(const char *dir)
{
	char *pat = xasprintf("%s/.orders-*.tmp", dir);
	glob_t g;

	if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	free(pat);
}

/* write_head: what the format puts before the first order. */
static void write_head(const struct export *e, struct buf *out)
{
	if (e->format == EXPORT_CSV) {
		for (const char *const *col = csv_columns; *col; col++)
			buf_printf(out, "%s%s", col == csv_columns ? "" : ",", *col);
		buf_addch(out, '\n');
	} else if (e->format == EXPORT_XML) {
		buf_addstr(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Orders>\n");
	}
}

/* write_orders: every order past *key into the file, *key ending at the last one. */
static int write_orders(struct commerce_client *client, const struct export *e,
			struct search_key *key, struct publish *pub, struct buf *out,
			struct export_result *res, struct buf *err)
{
	struct order_writer w = {e, out, res, pub->fd, pub->tmp, err};

	if (search_by_key(client, "orders", "updated_at", "entity_id", key, NULL, e->page_size,
			  each_order, &w, &res->pages, err) < 0)
		return -1;
	if (publish_write(pub, out->data ? out->data : "", out->len, err) < 0)
		return -1;
	buf_reset(out);
	return 0;
}

/* link_partners: the committed file into the other partners' directories too. */
static int link_partners(const struct conf *c, const struct export *e, const char *stamp,
			 const char *final, struct buf *err)
{
	for (size_t i = 1; i < e->partners.n; i++) {
		char *odir = xasprintf("%s/%s/%s", c->spool, e->partners.v[i], e->dir);
		char *other = xasprintf("%s/orders-%s.%s", odir, stamp, extension(e));
		int bad = mkdirs(odir, 0750, err) < 0 || spool_link_or_copy(final, other, err) < 0;

		free(odir);
		free(other);
		if (bad)
			return -1;
	}
	return 0;
}

int export_orders(const struct conf *c, const struct export *e, struct ledger *l,
		  struct export_result *res, struct buf *err)
{
	const struct target *t = conf_target(c, e->target);
	struct commerce_client *client = NULL;
	struct buf out = BUF_INIT(BUF_NOCAP);
	struct note_key note = { "" };
	char stamp[32];
	struct search_key key = {"1970-01-01 00:00:00", 0};
	char *dir = NULL, *final = NULL;
	struct publish pub = {.fd = -1};
	int rc = -1;
	time_t now = time(NULL);
	struct tm tm;

	memset(res, 0, sizeof(*res));
	note_export_watermark(&note, e->name);
	watermark_load(l, &note, &key);
	client = commerce_client_new(t, err);
	if (client == NULL)
		goto out;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	dir = xasprintf("%s/%s/%s", c->spool, e->partners.v[0], e->dir);
	if (mkdirs(dir, 0750, err) < 0)
		goto out;
	remove_leftovers(dir);
	final = xasprintf("%s/orders-%s.%s", dir, stamp, extension(e));
	/* written as .orders-STAMP.EXT.XXXXXX.tmp (util/publish): what remove_leftovers removes */
	if (publish_open(&pub, final, 0640, 0, err) < 0)
		goto out;
	write_head(e, &out);
	if (write_orders(client, e, &key, &pub, &out, res, err) < 0)
		goto out;
	if (res->orders == 0) {
		log_simple(LOG_INFO, "export_empty",
			   "[export %s]: no order is new or changed since %s; "
			   "no file written",
			   e->name, key.t);
		rc = 0;
		goto out;
	}
	if (e->format == EXPORT_XML)
		buf_addstr(&out, "</Orders>\n");
	if (publish_write(&pub, out.data ? out.data : "", out.len, err) < 0 ||
	    publish_commit(&pub, err) < 0)
		goto out;
	if (link_partners(c, e, stamp, final, err) < 0)
		goto out;
	/* the file is durable everywhere: now the watermark may move */
	if (watermark_save(l, &note, &key, err) < 0)
		goto out;
	snprintf(res->file, sizeof(res->file), "%s", final);
	rc = 0;
out:
	publish_abort(&pub); /* nothing left once committed */
	free(final);
	free(dir);
	commerce_client_free(client);
	buf_release(&out);
	return rc;
}
