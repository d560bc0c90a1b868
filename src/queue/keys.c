/*
 * keys - the key store in the ledger (see keys.h): tables key_scopes and keys,
 * made by the backend's schema (db_sqlite.c, db_pg.c); the statements whose
 * SQL differs between backends are db.h's DBQ_KEYS_*. Hashes and digests are stored as the int64
 * with the same bits.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/rowsum.h"
#include "queue/keys.h"
#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "util/log.h"
#include "util/xalloc.h"

/*
 * to_db / from_db: a hash as the int64 the database stores, its top bit flipped so
 * that the index's signed order is the hash's unsigned order: keys_load
 * hands entries out sorted by hash, and the sift needs no sort.
 */
static long long to_db(uint64_t h)
{
	return (long long)(h ^ (1ULL << 63));
}

static uint64_t from_db(long long v)
{
	return (uint64_t)v ^ (1ULL << 63);
}

/* bump: the scope's generation one higher, the one before to *before (lock held, in
   the write's transaction). 0 or -1. */
static int bump(struct ledger *l, long long scope, long long *before)
{
	struct db_stmt *st;
	int ok;

	st =
	    db_prepare(l->db, "UPDATE key_scopes SET gen = gen + 1 WHERE id = ? RETURNING gen - 1");
	ok = st != NULL;
	if (ok) {
		db_bind_int64(st, 1, scope);
		ok = db_step(st) == DB_ROW;
		if (ok && before)
			*before = db_column_int64(st, 0);
		ok = ok && db_step(st) == DB_DONE;
	}
	db_finalize(st);
	return ok ? 0 : -1;
}

int keys_scope(struct ledger *l, const char *partner, const char *sequence, const char *target,
	       struct key_scope *s)
{
	struct db_stmt *st;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (ledger_run(l,
		       "INSERT INTO key_scopes (partner, sequence, target) VALUES (?, ?, ?) "
		       "ON CONFLICT DO NOTHING",
		       "sss", partner, sequence, target) < 0)
		return -1;
	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db,
			     "SELECT id, full_stamp, complete_stamp, gen FROM key_scopes WHERE "
			     "partner = ? AND sequence = ? AND target = ?")) != NULL) {
		db_bind_text(st, 1, partner);
		db_bind_text(st, 2, sequence);
		db_bind_text(st, 3, target);
		if (db_step(st) == DB_ROW) {
			s->id = db_column_int64(st, 0);
			s->full_stamp = db_column_int64(st, 1);
			s->complete_stamp = db_column_int64(st, 2);
			s->gen = db_column_int64(st, 3);
			rc = 0;
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/*
 * each_row: sql with ?1 the scope (and ?2 the hash, when khash is given), each
 * row to fn (its nonzero return stops), under the ledger's lock: fn must not
 * use the ledger (the rows stream: a big read is never held whole). How many
 * rows came, or -1.
 */
static long long each_row(struct ledger *l, const char *sql, long long scope, const uint64_t *khash,
			  int (*fn)(struct db_stmt *st, void *ctx), void *ctx)
{
	struct db_stmt *st;
	long long n = 0;
	int rc = DB_ERROR;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare_stream(l->db, sql)) != NULL) {
		db_bind_int64(st, 1, scope);
		if (khash)
			db_bind_int64(st, 2, to_db(*khash));
		while ((rc = db_step(st)) == DB_ROW) {
			n++;
			if (fn(st, ctx))
				break;
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc == DB_ROW || rc == DB_DONE ? n : -1;
}

struct brief_fn {
	int (*fn)(void *ctx, const struct key_brief *b);
	void *ctx;
};

/* The recent rows of a scope (few), merged into the stream of its keys by hash. */
struct merge {
	struct brief_fn bf;
	struct key_brief *v;
	size_t n, cap, i;
};

static int recent_row(struct db_stmt *st, void *ctx)
{
	struct merge *m = ctx;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->v = xreallocarray(m->v, m->cap, sizeof(*m->v));
	}
	m->v[m->n].khash = from_db(db_column_int64(st, 0));
	m->v[m->n].digest = (uint64_t)db_column_int64(st, 1);
	m->v[m->n].stamp = db_column_int64(st, 2);
	m->v[m->n].in_full = (int)db_column_int64(st, 3);
	m->n++;
	return 0;
}

/* merge_row: a key's row, after the recent rows that sort before it; its recent row
   in its place (never older: keys_put), held by the full when either says so */
static int merge_row(struct db_stmt *st, void *ctx)
{
	struct merge *m = ctx;
	struct key_brief b;

	b.khash = from_db(db_column_int64(st, 0));
	b.digest = (uint64_t)db_column_int64(st, 1);
	b.stamp = db_column_int64(st, 2);
	b.in_full = (int)db_column_int64(st, 3);
	for (; m->i < m->n && m->v[m->i].khash < b.khash; m->i++)
		if (m->bf.fn(m->bf.ctx, &m->v[m->i]))
			return 1;
	if (m->i < m->n && m->v[m->i].khash == b.khash) {
		struct key_brief r = m->v[m->i++];
		r.in_full = r.in_full || b.in_full;
		return m->bf.fn(m->bf.ctx, &r);
	}
	return m->bf.fn(m->bf.ctx, &b);
}

int keys_load(struct ledger *l, long long scope, int (*fn)(void *ctx, const struct key_brief *b),
	      void *ctx)
{
	struct merge m = {{fn, ctx}, NULL, 0, 0, 0};
	int rc = -1;

	if (each_row(l,
		     "SELECT khash, digest, stamp, in_full FROM keys_recent WHERE scope = ?1 "
		     "ORDER BY khash",
		     scope, NULL, recent_row, &m) >= 0 &&
	    each_row(l, db_sql(l->db, DBQ_KEYS_LOAD), scope, NULL, merge_row, &m) >= 0) {
		rc = 0;
		for (; m.i < m.n; m.i++)
			if (fn(ctx, &m.v[m.i]))
				break;
	}
	free(m.v);
	return rc;
}

long long keys_count(struct ledger *l, long long scope)
{
	return ledger_single_int(l,
				 "SELECT (SELECT count(*) FROM keys WHERE scope = ?1) + (SELECT "
				 "count(*) FROM keys_recent r WHERE r.scope = ?1 AND NOT EXISTS "
				 "(SELECT 1 FROM keys k WHERE k.scope = r.scope AND k.khash = "
				 "r.khash))",
				 "i", scope);
}

uint64_t keys_hash(const char *key)
{
	return key_hash(key, strlen(key)); /* lib/rowsum.h: the store's definition */
}

/* count_upto: the number sql answers for ?1 scope and ?2 a limit (-1: no ?2), lock
   held; -1 on error */
static long long count_upto(struct ledger *l, const char *sql, long long scope, long long limit)
{
	struct db_stmt *st = db_prepare(l->db, sql);
	long long n = -1;

	if (st) {
		db_bind_int64(st, 1, scope);
		if (limit >= 0)
			db_bind_int64(st, 2, limit);
		if (db_step(st) == DB_ROW)
			n = db_column_int64(st, 0);
		db_finalize(st);
	}
	return n;
}

/*
 * to_recent: n rows go to keys_recent while it stays small beside the keys
 * (at most RECENT_SHARE of them, and RECENT_MAX rows): a night's changes to a
 * big store are written as a few pages, not as most of its pages. Else its rows
 * are folded into keys first (the once in several nights the store's pages are
 * all written), and the n rows go there too. Lock held, in the write's
 * transaction: 1 recent, 0 keys, -1 on error.
 */
#define RECENT_SHARE 8
#define RECENT_MAX 200000
/* fold: the scope's recent rows into keys, counted again (lock held, in a transaction) */
static int fold(struct ledger *l, long long scope)
{
	return ledger_step(l, db_sql(l->db, DBQ_KEYS_FOLD), "i", scope) == 0 &&
			   ledger_step(l, "DELETE FROM keys_recent WHERE scope = ?", "i", scope) == 0 &&
			   ledger_step(l, "UPDATE key_scopes SET keys_n = (SELECT count(*) FROM keys "
					  "WHERE scope = ?1) WHERE id = ?1", "i", scope) == 0
		   ? 0
		   : -1;
}

static int to_recent(struct ledger *l, long long scope, size_t n)
{
	long long recent = count_upto(l,
				      "SELECT count(*) FROM (SELECT 1 FROM keys_recent WHERE scope = "
				      "?1 LIMIT ?2) t",
				      scope, RECENT_MAX + 1);
	long long want = recent + (long long)n;
	long long keys = count_upto(l, "SELECT keys_n FROM key_scopes WHERE id = ?1", scope, -1);

	if (recent < 0 || keys < 0)
		return -1;
	if (want <= RECENT_MAX && keys >= want * RECENT_SHARE)
		return 1;
	return recent > 0 && fold(l, scope) < 0 ? -1 : 0;
}

int keys_put(struct ledger *l, long long scope, const struct key_entry *e, size_t n,
	     long long *gen_before, long long proven)
{
	struct db_stmt *st = NULL;
	long long before = -1;
	int ok, recent = 0;
	enum db_sql q;

	pthread_mutex_lock(&l->lock);
	/* the generation first: its row lock orders every writer of the scope (another
	   node's fold included) before anything is read */
	ok = db_begin(l->db) == 0 && bump(l, scope, &before) == 0 &&
	     (recent = to_recent(l, scope, n)) >= 0;
	if (gen_before)
		*gen_before = before;
	/* a recent row is never older than its key's row in keys: looked up, unless the
	   caller's copy of this very generation showed it (a night's 20,000 look-ups) */
	q = !recent ? DBQ_KEYS_PUT : proven >= 0 && before == proven ? DBQ_KEYS_PUT_RECENT_PROVEN
								     : DBQ_KEYS_PUT_RECENT;
	ok = ok && (st = db_prepare(l->db, db_sql(l->db, q))) != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		db_bind_int64(st, 1, scope);
		db_bind_text(st, 2, e[i].key);
		db_bind_int64(st, 3, to_db(e[i].khash ? e[i].khash : keys_hash(e[i].key)));
		db_bind_int64(st, 4, (long long)e[i].digest);
		db_bind_int64(st, 5, e[i].stamp);
		db_bind_int64(st, 6, e[i].in_full);
		db_bind_text(st, 7, e[i].header);
		db_bind_text(st, 8, e[i].row);
		ok = db_step_batch(st) == 0;
	}
	db_finalize(st);
	/* keys written: counted again for to_recent (as costly as the write, and rare) */
	if (ok && !recent)
		ok = ledger_step(l, "UPDATE key_scopes SET keys_n = (SELECT count(*) FROM keys WHERE "
				    "scope = ?1) WHERE id = ?1", "i", scope) == 0;
	/* the scope's table kept in memory is not told: a fold changes no entry */
	return ledger_write_end(l, ok ? 0 : -1);
}

int keys_fold_idle(struct ledger *l)
{
	struct db_stmt *st;
	long long scope = 0;
	int ok;

	pthread_mutex_lock(&l->lock);
	/* the first scope past half its share; the share's count read to RECENT_MAX at most */
	st = db_prepare(l->db, "SELECT s.id FROM key_scopes s WHERE EXISTS (SELECT 1 FROM "
			       "keys_recent r WHERE r.scope = s.id) AND (SELECT count(*) FROM (SELECT "
			       "1 FROM keys_recent r WHERE r.scope = s.id LIMIT ?1) t) * ?2 > "
			       "s.keys_n ORDER BY s.id LIMIT 1");
	ok = st != NULL;
	if (ok) {
		db_bind_int64(st, 1, RECENT_MAX + 1);
		db_bind_int64(st, 2, 2 * RECENT_SHARE);
		if (db_step(st) == DB_ROW)
			scope = db_column_int64(st, 0);
		db_finalize(st);
	}
	if (ok && scope) {
		/* the scope's row locked as a write's bump does (its generation unmoved: a
		   fold changes no entry), so a fold on another node waits for this one */
		ok = db_begin(l->db) == 0 &&
		     ledger_step(l, "UPDATE key_scopes SET gen = gen WHERE id = ?", "i", scope) == 0 &&
		     fold(l, scope) == 0 && db_commit(l->db) == 0;
		if (!ok) {
			ledger_mark_failed(l);
			db_rollback(l->db);
		} else {
			log_simple(LOG_DEBUG, "keys_folded", "scope %lld", scope);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return !ok ? -1 : scope ? 1 : 0;
}

struct entry_fn {
	int (*fn)(void *ctx, const struct key_entry *e);
	void (*one)(void *ctx, const struct key_entry *e); /* keys_get's */
	void *ctx;
};

static int entry_row(struct db_stmt *st, void *ctx)
{
	struct entry_fn *ef = ctx;
	struct key_entry e;

	e.key = db_column_text(st, 0);
	e.khash = 0;
	e.digest = (uint64_t)db_column_int64(st, 1);
	e.stamp = db_column_int64(st, 2);
	e.in_full = (int)db_column_int64(st, 3);
	e.header = db_column_text(st, 4);
	e.row = db_column_text(st, 5);
	if (ef->one) {
		ef->one(ef->ctx, &e);
		return 0;
	}
	return ef->fn(ef->ctx, &e);
}

int keys_each(struct ledger *l, long long scope, int (*fn)(void *ctx, const struct key_entry *e),
	      void *ctx)
{
	struct entry_fn ef = {fn, NULL, ctx};

	return each_row(l,
			"SELECT key, digest, stamp, in_full, header, row FROM keys_now WHERE "
			"scope = ?1 ORDER BY key",
			scope, NULL, entry_row, &ef) < 0
		   ? -1
		   : 0;
}

int keys_get(struct ledger *l, long long scope, uint64_t khash,
	     void (*fn)(void *ctx, const struct key_entry *e), void *ctx)
{
	struct entry_fn ef = {NULL, fn, ctx};
	long long n = each_row(l,
			       "SELECT key, digest, stamp, in_full, header, row FROM keys_now "
			       "WHERE scope = ?1 AND khash = ?2",
			       scope, &khash, entry_row, &ef);

	return n < 0 ? -1 : n == 0 ? 1 : 0;
}

/* older_than_full: a newer full snapshot of the scope is already through (lock held) */
static int older_than_full(struct ledger *l, long long scope, long long stamp)
{
	struct db_stmt *st;
	int older = 0;

	if ((st = db_prepare(l->db, "SELECT full_stamp FROM key_scopes WHERE id = ?")) != NULL) {
		db_bind_int64(st, 1, scope);
		if (db_step(st) == DB_ROW)
			older = db_column_int64(st, 0) > stamp;
		db_finalize(st);
	}
	return older;
}

int keys_full_done(struct ledger *l, long long scope, long long stamp, int complete,
		   const uint64_t *lacking, size_t n, long long *gen_before)
{
	struct db_stmt *st = NULL;
	int ok, marked = 0;

	pthread_mutex_lock(&l->lock);
	ok = db_begin(l->db) == 0 && bump(l, scope, gen_before) == 0; /* first: keys_put's */
	if (ok && older_than_full(l, scope, stamp))
		n = 0, lacking = NULL; /* a newer snapshot's marks stay */
	else if (ok) {
		/* held by this snapshot unless listed: only the few that change are written */
		ok = ledger_step(l, db_sql(l->db, DBQ_KEYS_MARK_FULL), "i", scope) == 0 &&
		     ledger_step(l, "UPDATE keys_recent SET in_full = 1 WHERE scope = ? AND "
				    "in_full = 0", "i", scope) == 0;
		marked = 1;
	}
	/* a key lacking is marked in both tables (keys_now: held when either says so) */
	for (int t = 0; t < 2 && ok && n; t++) {
		ok = (st = db_prepare(l->db, t ? "UPDATE keys_recent SET in_full = 0 WHERE scope = "
						 "? AND khash = ?"
					       : "UPDATE keys SET in_full = 0 WHERE scope = ? AND "
						 "khash = ?")) != NULL;
		for (size_t i = 0; ok && i < n; i++) {
			db_bind_int64(st, 1, scope);
			db_bind_int64(st, 2, to_db(lacking[i]));
			ok = db_step_batch(st) == 0;
		}
		db_finalize(st);
		st = NULL;
	}
	if (ok)
		ok = ledger_step(l, db_sql(l->db, DBQ_KEYS_SCOPE_STAMP), "iii", stamp,
				 (long long)complete, scope) == 0;
	return ledger_write_end(l, ok ? 0 : -1) == 0 ? marked : -1;
}

const char *const keys_count_names[KC_N] = {"sent", "unchanged", "superseded", "absent",
					    "rejected"};

int keys_counts_set(struct ledger *l, long long file_id, const char *target,
		    const long long n[KC_N])
{
	return ledger_run(l,
			  "INSERT INTO file_targets VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
			  "(file_id, target) DO UPDATE SET sent = excluded.sent, unchanged = "
			  "excluded.unchanged, superseded = excluded.superseded, absent = "
			  "excluded.absent, rejected = excluded.rejected",
			  "isiiiii", file_id, target, n[KC_SENT], n[KC_UNCHANGED], n[KC_SUPERSEDED],
			  n[KC_ABSENT], n[KC_REJECTED]);
}

int keys_counts_each(struct ledger *l, long long file_id,
		     void (*fn)(void *ctx, const char *target, const long long n[KC_N]), void *ctx)
{
	struct db_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT target, sent, unchanged, superseded, absent, rejected "
				    "FROM file_targets WHERE file_id = ? ORDER BY rowid")) !=
	    NULL) {
		db_bind_int64(st, 1, file_id);
		while (db_step(st) == DB_ROW) {
			long long n[KC_N];
			for (int i = 0; i < KC_N; i++)
				n[i] = db_column_int64(st, i + 1);
			fn(ctx, db_column_text(st, 0), n);
		}
		rc = 0;
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}
