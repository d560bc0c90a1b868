#include "config.h"

#include <glob.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/run.h"
#include "export/stock.h"
#include "lib/batch.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/stamp.h"
#include "queue/ledger.h"
#include "queue/notes.h"
#include "queue/picture.h"
#include "queue/spool.h"
#include "util/durable.h"
#include "util/log.h"
#include "util/publish.h"
#include "util/strlist.h"
#include "util/xalloc.h"

/* runs never overlap: the schedule and the end of a full snapshot may meet */
static pthread_mutex_t stock_lock = PTHREAD_MUTEX_INITIALIZER;

/* csv_split: one CSV record (RFC 4180, as csv_append_field writes it) into fields. */
static void csv_split(const char *rec, struct strlist *out)
{
	struct buf f = BUF_INIT(BUF_NOCAP);
	const char *s = rec;

	strlist_clear(out);
	for (;;) {
		buf_reset(&f);
		if (*s == '"') {
			for (s++; *s; s++) {
				if (*s == '"' && s[1] == '"')
					buf_addch(&f, *s++);
				else if (*s == '"')
					break;
				else
					buf_addch(&f, *s);
			}
			if (*s == '"')
				s++;
		}
		while (*s && *s != ',')
			buf_addch(&f, *s++);
		strlist_push(out, buf_cstr(&f));
		if (*s != ',')
			break;
		s++;
	}
	buf_release(&f);
}

static const struct entity *sequence_entity(const struct conf *c, const char *sequence)
{
	for (size_t i = 0; i < c->nfeeds; i++)
		if (c->feeds[i].sequence && strcmp(c->feeds[i].sequence, sequence) == 0)
			return c->feeds[i].entity;
	return NULL;
}

/* --- the columns: the key, the values, stamp ------------------------------- */

struct columns {
	const struct entity *e;
	struct strlist met; /* every column of every header, in the order first met */
	struct strlist fields;
};

static int meet_header(void *ctx, const char *header)
{
	struct columns *cols = ctx;

	csv_split(header, &cols->fields);
	for (size_t i = 0; i < cols->fields.n; i++)
		if (!strlist_has(&cols->met, cols->fields.v[i]))
			strlist_push(&cols->met, cols->fields.v[i]);
	return 0;
}

/* order_columns: the key columns (all, in the entity's order), the entity's other columns
   met, the rest met, in out. */
static void order_columns(const struct columns *cols, struct strlist *out)
{
	const struct column_rule *r;

	for (r = cols->e->columns; r->name; r++)
		if (r->flags & COL_KEY)
			strlist_push(out, r->name);
	for (r = cols->e->columns; r->name; r++)
		if (!(r->flags & COL_KEY) && strlist_has(&cols->met, r->name))
			strlist_push(out, r->name);
	for (size_t i = 0; i < cols->met.n; i++)
		if (!strlist_has(out, cols->met.v[i]))
			strlist_push(out, cols->met.v[i]);
}

/* --- the copy --------------------------------------------------------------- */

struct copy {
	const struct strlist *order;
	struct strlist names, values;
	struct publish *pub;
	struct buf out;
	EVP_MD_CTX *sha;
	unsigned long keys;
	int failed;
	struct buf *err;
};

static int flush(struct copy *w, size_t at_least)
{
	if (w->out.len < at_least)
		return 0;
	EVP_DigestUpdate(w->sha, w->out.data ? w->out.data : "", w->out.len);
	if (publish_write(w->pub, w->out.data ? w->out.data : "", w->out.len, w->err) < 0)
		return w->failed = -1;
	buf_reset(&w->out);
	return 0;
}

static int copy_entry(void *ctx, const struct picture_entry *e)
{
	struct copy *w = ctx;
	char when[32];

	csv_split(e->header, &w->names);
	csv_split(e->row, &w->values);
	for (size_t i = 0; i < w->order->n; i++) {
		const char *v = "";
		for (size_t j = 0; j < w->names.n && j < w->values.n; j++)
			if (strcmp(w->names.v[j], w->order->v[i]) == 0)
				v = w->values.v[j];
		csv_append_field(&w->out, v, strlen(v));
		buf_addch(&w->out, ',');
	}
	stamp_text((time_t)e->stamp, when, sizeof(when));
	buf_printf(&w->out, "%s\n", when);
	w->keys++;
	return flush(w, 1024 * 1024);
}

/* remove_leftovers: a run cut short (kill -9) left its dot-file: it never became the copy. */
static void remove_leftovers(const char *dir)
{
	char *pat = xasprintf("%s/.stock-*.tmp", dir);
	glob_t g;

	if (glob(pat, GLOB_NOSORT, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
	free(pat);
}

static void hex(const unsigned char *md, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * n] = '\0';
}

/* write_copy: the picture into pub; its SHA-256 (hex) in sum. 0, or -1 with err. */
static int write_copy(struct ledger *l, const struct export *e, const struct strlist *order,
		      struct publish *pub, char sum[65], unsigned long *keys, struct buf *err)
{
	struct copy w = {.order = order,
			 .pub = pub,
			 .out = BUF_INIT(BUF_NOCAP),
			 .sha = EVP_MD_CTX_new(),
			 .err = err};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int rc = -1;

	if (w.sha == NULL || EVP_DigestInit_ex(w.sha, EVP_sha256(), NULL) != 1) {
		buf_addstr(err, "no SHA-256 from OpenSSL");
		goto out;
	}
	for (size_t i = 0; i < order->n; i++) {
		csv_append_field(&w.out, order->v[i], strlen(order->v[i]));
		buf_addch(&w.out, ',');
	}
	buf_addstr(&w.out, "stamp\n");
	if (picture_each(l, e->sequence, e->target, copy_entry, &w) < 0 && !w.failed) {
		buf_addstr(err, "the key store could not be read");
		goto out;
	}
	if (w.failed || flush(&w, 0) < 0)
		goto out;
	EVP_DigestFinal_ex(w.sha, md, &mdlen);
	hex(md, mdlen, sum);
	*keys = w.keys;
	rc = 0;
out:
	EVP_MD_CTX_free(w.sha);
	strlist_clear(&w.names);
	strlist_clear(&w.values);
	buf_release(&w.out);
	return rc;
}

/* link_partners: the committed copy into the other partners' directories too. */
static int link_partners(const struct conf *c, const struct export *e, const char *name,
			 const char *final, struct buf *err)
{
	for (size_t i = 1; i < e->partners.n; i++) {
		char *odir = xasprintf("%s/%s/%s", c->spool, e->partners.v[i], e->dir);
		char *other = xasprintf("%s/%s", odir, name);
		int bad = mkdirs(odir, 0750, err) < 0 || spool_link_or_copy(final, other, err) < 0;

		free(odir);
		free(other);
		if (bad)
			return -1;
	}
	return 0;
}

static int run_locked(const struct conf *c, const struct export *e, struct ledger *l, time_t now,
		      struct stock_result *res, struct buf *err)
{
	struct columns cols = {sequence_entity(c, e->sequence), STRLIST_INIT, STRLIST_INIT};
	struct strlist order = STRLIST_INIT;
	struct publish pub = {.fd = -1};
	struct note_key note = {""};
	char stamp[32], sum[65], before[128] = "";
	char *dir = NULL, *name = NULL, *final = NULL;
	struct tm tm;
	int rc = -1;

	if (cols.e == NULL) {
		buf_printf(err, "no feed has sequence = %s", e->sequence);
		goto out;
	}
	if (picture_headers(l, e->sequence, e->target, meet_header, &cols) < 0) {
		buf_addstr(err, "the key store could not be read");
		goto out;
	}
	order_columns(&cols, &order);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	dir = xasprintf("%s/%s/%s", c->spool, e->partners.v[0], e->dir);
	if (mkdirs(dir, 0750, err) < 0)
		goto out;
	remove_leftovers(dir);
	name = xasprintf("stock-%s-%s.csv", e->sequence, stamp);
	final = xasprintf("%s/%s", dir, name);
	/* written as .stock-....csv.XXXXXX.tmp: what remove_leftovers removes */
	if (publish_open(&pub, final, 0640, 0, err) < 0 ||
	    write_copy(l, e, &order, &pub, sum, &res->keys, err) < 0)
		goto out;
	ledger_note_get(l, note_export_watermark(&note, e->name), before, sizeof(before));
	if (strcmp(before, sum) == 0 || (res->keys == 0 && before[0] == '\0')) {
		log_simple(LOG_INFO, "export_empty",
			   "[export %s]: the picture of %s is what the last copy held (or empty); "
			   "no file written",
			   e->name, e->sequence);
		rc = 0;
		goto out;
	}
	if (publish_commit(&pub, err) < 0 || link_partners(c, e, name, final, err) < 0)
		goto out;
	/* the copy is durable everywhere: now its sum may be remembered */
	if (ledger_note_set(l, note.text, sum) < 0) {
		buf_addstr(err, "the watermark could not be written");
		goto out;
	}
	snprintf(res->file, sizeof(res->file), "%s", final);
	rc = 0;
out:
	publish_abort(&pub);
	strlist_clear(&cols.met);
	strlist_clear(&cols.fields);
	strlist_clear(&order);
	free(dir);
	free(name);
	free(final);
	return rc;
}

int export_stock(const struct conf *c, const struct export *e, struct ledger *l, time_t now,
		 struct stock_result *res, struct buf *err)
{
	int rc;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&stock_lock);
	rc = run_locked(c, e, l, now, res, err);
	pthread_mutex_unlock(&stock_lock);
	return rc;
}

int stock_export_after_full(const struct conf *c, struct ledger *l, const char *sequence,
			    time_t now)
{
	int failed = 0;

	for (size_t i = 0; i < c->nexports; i++) {
		const struct export *e = &c->exports[i];
		struct export_outcome out;
		struct buf err = BUF_INIT(4096);

		if (e->kind == EXPORT_STOCK && strcmp(e->sequence, sequence) == 0 &&
		    export_run(c, e, l, now, NULL, NULL, &out, &err) < 0)
			failed++;
		buf_release(&err);
	}
	return failed;
}
