#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/picture.h"
#include "util/xalloc.h"

static int run(struct ledger *l, const char *sql, const char *sequence, const char *target,
	       int (*row)(struct db_stmt *st, void *arg), void *arg)
{
	struct db_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare_stream(l->db, sql)) != NULL) {
		db_bind_text(st, 1, sequence);
		db_bind_text(st, 2, target);
		while ((rc = db_step(st)) == DB_ROW)
			if (row(st, arg))
				break;
		rc = rc == DB_ROW || rc == DB_DONE ? 0 : -1;
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

struct headers {
	int (*fn)(void *ctx, const char *header);
	void *ctx;
};

static int header_row(struct db_stmt *st, void *arg)
{
	struct headers *h = arg;
	const char *text = db_column_text(st, 0);

	return h->fn(h->ctx, text ? text : "");
}

int picture_headers(struct ledger *l, const char *sequence, const char *target,
		    int (*fn)(void *ctx, const char *header), void *ctx)
{
	struct headers h = {fn, ctx};

	return run(l,
		   "SELECT DISTINCT k.header FROM keys_now k JOIN key_scopes s ON s.id = k.scope "
		   "WHERE s.sequence = ?1 AND s.target = ?2 ORDER BY k.header",
		   sequence, target, header_row, &h);
}

struct walk {
	int (*fn)(void *ctx, const struct picture_entry *e);
	void *ctx;
	char *last; /* the key given last: its other scopes' entries are older */
};

static int entry_row(struct db_stmt *st, void *arg)
{
	struct walk *w = arg;
	struct picture_entry e;
	const char *key = db_column_text(st, 0);
	int rc;

	if (key == NULL || (w->last && strcmp(w->last, key) == 0))
		return 0;
	e.key = key;
	e.header = db_column_text(st, 1);
	e.row = db_column_text(st, 2);
	e.stamp = db_column_int64(st, 3);
	e.partner = db_column_text(st, 4);
	if (e.header == NULL)
		e.header = "";
	if (e.row == NULL)
		e.row = "";
	rc = w->fn(w->ctx, &e);
	free(w->last);
	w->last = xstrdup(key);
	return rc;
}

int picture_each(struct ledger *l, const char *sequence, const char *target,
		 int (*fn)(void *ctx, const struct picture_entry *e), void *ctx)
{
	struct walk w = {fn, ctx, NULL};
	int rc;

	rc = run(l, db_sql(l->db, DBQ_PICTURE_EACH), sequence, target, entry_row, &w);
	free(w.last);
	return rc;
}
