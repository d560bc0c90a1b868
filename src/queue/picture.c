#include "config.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/picture.h"

/* a key's stamp, as keys_stamp_of (queue/keys.h) computes it */
#define STAMP_SQL "max(k.stamp, CASE WHEN k.in_full THEN s.full_stamp ELSE 0 END, s.complete_stamp)"

static int run(struct ledger *l, const char *sql, const char *sequence, const char *target,
	       int (*row)(sqlite3_stmt *st, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, sequence, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, target, -1, SQLITE_TRANSIENT);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if (row(st, arg))
				break;
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

struct headers {
	int (*fn)(void *ctx, const char *header);
	void *ctx;
};

static int header_row(sqlite3_stmt *st, void *arg)
{
	struct headers *h = arg;
	const unsigned char *text = sqlite3_column_text(st, 0);

	return h->fn(h->ctx, text ? (const char *)text : "");
}

int picture_headers(struct ledger *l, const char *sequence, const char *target,
		    int (*fn)(void *ctx, const char *header), void *ctx)
{
	struct headers h = {fn, ctx};

	return run(l,
		   "SELECT DISTINCT k.header FROM keys k JOIN key_scopes s ON s.id = k.scope "
		   "WHERE s.sequence = ? AND s.target = ? ORDER BY k.header",
		   sequence, target, header_row, &h);
}

struct walk {
	int (*fn)(void *ctx, const struct picture_entry *e);
	void *ctx;
	char *last; /* the key given last: its other scopes' entries are older */
};

static int entry_row(sqlite3_stmt *st, void *arg)
{
	struct walk *w = arg;
	struct picture_entry e;
	const char *key = (const char *)sqlite3_column_text(st, 0);
	int rc;

	if (key == NULL || (w->last && strcmp(w->last, key) == 0))
		return 0;
	e.key = key;
	e.header = (const char *)sqlite3_column_text(st, 1);
	e.row = (const char *)sqlite3_column_text(st, 2);
	e.stamp = sqlite3_column_int64(st, 3);
	e.partner = (const char *)sqlite3_column_text(st, 4);
	if (e.header == NULL)
		e.header = "";
	if (e.row == NULL)
		e.row = "";
	rc = w->fn(w->ctx, &e);
	sqlite3_free(w->last);
	w->last = sqlite3_mprintf("%s", key);
	return rc;
}

int picture_each(struct ledger *l, const char *sequence, const char *target,
		 int (*fn)(void *ctx, const struct picture_entry *e), void *ctx)
{
	struct walk w = {fn, ctx, NULL};
	int rc;

	rc = run(l,
		 "SELECT k.key, k.header, k.row, " STAMP_SQL " AS t, s.partner FROM keys k "
		 "JOIN key_scopes s ON s.id = k.scope WHERE s.sequence = ? AND s.target = ? "
		 "ORDER BY k.key, t DESC, s.partner",
		 sequence, target, entry_row, &w);
	sqlite3_free(w.last);
	return rc;
}
