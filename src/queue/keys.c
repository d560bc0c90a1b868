/*
 * keys - the key store in SQLite (see keys.h): tables key_scopes and keys,
 * made by ledger.c's schema. Hashes and digests are stored as the int64 with
 * the same bits.
 */
#include "config.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/keys.h"
#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

/*
 * to_db / from_db: a hash as the int64 SQLite stores, its top bit flipped so
 * that the index's signed order is the hash's unsigned order: keys_load
 * hands entries out sorted by hash, and the sift needs no sort.
 */
static sqlite3_int64 to_db(uint64_t h)
{
	return (sqlite3_int64)(h ^ (1ULL << 63));
}

static uint64_t from_db(sqlite3_int64 v)
{
	return (uint64_t)v ^ (1ULL << 63);
}

static void failed(struct ledger *l)
{
	__atomic_store_n(&l->failed, 1, __ATOMIC_RELAXED);
	log_simple(LOG_ERROR, "ledger_failed", "%s", sqlite3_errmsg(l->db));
}

/* bump: the scope's generation one higher, the one before to *before (lock held, in
   the write's transaction). 0 or -1. */
static int bump(struct ledger *l, long long scope, long long *before)
{
	sqlite3_stmt *st;
	int ok;

	ok = sqlite3_prepare_v2(l->db, "UPDATE key_scopes SET gen = gen + 1 WHERE id = ? "
				       "RETURNING gen - 1", -1, &st, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_int64(st, 1, scope);
		ok = sqlite3_step(st) == SQLITE_ROW;
		if (ok && before)
			*before = sqlite3_column_int64(st, 0);
		ok = ok && sqlite3_step(st) == SQLITE_DONE;
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

int keys_scope(struct ledger *l, const char *partner, const char *sequence, const char *target,
	       struct key_scope *s)
{
	sqlite3_stmt *st;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (ledger_run(l,
		       "INSERT INTO key_scopes (partner, sequence, target) VALUES (?, ?, ?) "
		       "ON CONFLICT DO NOTHING",
		       "sss", partner, sequence, target) < 0)
		return -1;
	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT id, full_stamp, complete_stamp, gen FROM key_scopes WHERE "
			       "partner = ? AND sequence = ? AND target = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, partner, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, sequence, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, target, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			s->id = sqlite3_column_int64(st, 0);
			s->full_stamp = sqlite3_column_int64(st, 1);
			s->complete_stamp = sqlite3_column_int64(st, 2);
			s->gen = sqlite3_column_int64(st, 3);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/*
 * each_row: sql with ?1 the scope (and ?2 the hash, when khash is given), each
 * row to fn (its nonzero return stops), under the ledger's lock. How many rows
 * came, or -1.
 */
static long long each_row(struct ledger *l, const char *sql, long long scope,
			  const uint64_t *khash, int (*fn)(sqlite3_stmt *st, void *ctx), void *ctx)
{
	sqlite3_stmt *st;
	long long n = 0;
	int rc = SQLITE_ERROR;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, scope);
		if (khash)
			sqlite3_bind_int64(st, 2, to_db(*khash));
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			n++;
			if (fn(st, ctx))
				break;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

struct brief_fn {
	int (*fn)(void *ctx, const struct key_brief *b);
	void *ctx;
};

static int brief_row(sqlite3_stmt *st, void *ctx)
{
	struct brief_fn *bf = ctx;
	struct key_brief b;

	b.khash = from_db(sqlite3_column_int64(st, 0));
	b.digest = (uint64_t)sqlite3_column_int64(st, 1);
	b.stamp = sqlite3_column_int64(st, 2);
	b.in_full = sqlite3_column_int(st, 3);
	return bf->fn(bf->ctx, &b);
}

int keys_load(struct ledger *l, long long scope, int (*fn)(void *ctx, const struct key_brief *b),
	      void *ctx)
{
	struct brief_fn bf = {fn, ctx};

	/* the covering index keys_brief: the rows' text is not read */
	return each_row(l,
			"SELECT khash, digest, stamp, in_full FROM keys INDEXED BY keys_brief "
			"WHERE scope = ?1 ORDER BY khash",
			scope, NULL, brief_row, &bf) < 0
		   ? -1
		   : 0;
}

long long keys_count(struct ledger *l, long long scope)
{
	return ledger_single_int(l, "SELECT count(*) FROM keys WHERE scope = ?", "i", scope);
}

uint64_t keys_hash_n(const char *key, size_t len)
{
	char small[256], *folded = len <= sizeof(small) ? small : xmalloc(len);
	uint64_t h;

	small[0] = '\0'; /* (an empty key reads nothing of it) */
	/* Commerce's keys compare without case (MySQL's _ci collations): SKU-1 and
	   sku-1 are one product, one key here too (ASCII letters) */
	for (size_t i = 0; i < len; i++)
		folded[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
	h = hash64(folded, len);
	if (folded != small)
		free(folded);
	return h ? h : 1; /* 0 is no key */
}

uint64_t keys_hash(const char *key)
{
	return keys_hash_n(key, strlen(key));
}

int keys_put(struct ledger *l, long long scope, const struct key_entry *e, size_t n,
	     long long *gen_before)
{
	sqlite3_stmt *st = NULL;
	int ok;

	pthread_mutex_lock(&l->lock);
	ok = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
	     sqlite3_prepare_v2(
		 l->db,
		 "INSERT INTO keys (scope, key, khash, digest, stamp, in_full, header, row) "
		 "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, khash) DO UPDATE SET "
		 "key = excluded.key, digest = excluded.digest, stamp = excluded.stamp, header = excluded.header, "
		 "row = excluded.row, in_full = max(in_full, excluded.in_full) "
		 "WHERE excluded.stamp >= keys.stamp",
		 -1, &st, NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_bind_int64(st, 1, scope);
		sqlite3_bind_text(st, 2, e[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, to_db(e[i].khash ? e[i].khash : keys_hash(e[i].key)));
		sqlite3_bind_int64(st, 4, (sqlite3_int64)e[i].digest);
		sqlite3_bind_int64(st, 5, e[i].stamp);
		sqlite3_bind_int(st, 6, e[i].in_full);
		sqlite3_bind_text(st, 7, e[i].header, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, e[i].row, -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	ok = ok && bump(l, scope, gen_before) == 0;
	if (ok)
		ok = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	if (!ok) {
		failed(l);
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&l->lock);
	return ok ? 0 : -1;
}

struct entry_fn {
	int (*fn)(void *ctx, const struct key_entry *e);
	void (*one)(void *ctx, const struct key_entry *e); /* keys_get's */
	void *ctx;
};

static int entry_row(sqlite3_stmt *st, void *ctx)
{
	struct entry_fn *ef = ctx;
	struct key_entry e;

	e.key = (const char *)sqlite3_column_text(st, 0);
	e.khash = 0;
	e.digest = (uint64_t)sqlite3_column_int64(st, 1);
	e.stamp = sqlite3_column_int64(st, 2);
	e.in_full = sqlite3_column_int(st, 3);
	e.header = (const char *)sqlite3_column_text(st, 4);
	e.row = (const char *)sqlite3_column_text(st, 5);
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
			"SELECT key, digest, stamp, in_full, header, row FROM keys WHERE "
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
			       "SELECT key, digest, stamp, in_full, header, row FROM keys WHERE "
			       "scope = ?1 AND khash = ?2",
			       scope, &khash, entry_row, &ef);

	return n < 0 ? -1 : n == 0 ? 1 : 0;
}

/* older_than_full: a newer full snapshot of the scope is already through (lock held) */
static int older_than_full(struct ledger *l, long long scope, long long stamp)
{
	sqlite3_stmt *st;
	int older = 0;

	if (sqlite3_prepare_v2(l->db, "SELECT full_stamp FROM key_scopes WHERE id = ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, scope);
		if (sqlite3_step(st) == SQLITE_ROW)
			older = sqlite3_column_int64(st, 0) > stamp;
		sqlite3_finalize(st);
	}
	return older;
}

int keys_full_done(struct ledger *l, long long scope, long long stamp, int complete,
		   const uint64_t *lacking, size_t n, long long *gen_before)
{
	sqlite3_stmt *st = NULL;
	int ok, marked = 0;

	pthread_mutex_lock(&l->lock);
	ok = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
	if (ok && older_than_full(l, scope, stamp))
		n = 0, lacking = NULL; /* a newer snapshot's marks stay */
	else if (ok) {
		char sql[256];
		/* held by this snapshot unless listed: only the few that change are written */
		/* through the partial index: without it SQLite's planner reads every key of
		   the scope (0.3 s for a million) to find the few that change */
		snprintf(sql, sizeof(sql),
			 "UPDATE keys INDEXED BY keys_not_full SET in_full = 1 WHERE scope = %lld "
			 "AND in_full = 0",
			 scope);
		ok = sqlite3_exec(l->db, sql, NULL, NULL, NULL) == SQLITE_OK;
		marked = 1;
	}
	if (ok)
		ok = sqlite3_prepare_v2(l->db,
					"UPDATE keys SET in_full = 0 WHERE scope = ? AND khash = ?",
					-1, &st, NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_bind_int64(st, 1, scope);
		sqlite3_bind_int64(st, 2, to_db(lacking[i]));
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (ok)
		ok = sqlite3_prepare_v2(l->db,
					"UPDATE key_scopes SET full_stamp = max(full_stamp, ?1), "
					"complete_stamp = CASE WHEN ?2 THEN max(complete_stamp, ?1) "
					"ELSE complete_stamp END WHERE id = ?3",
					-1, &st, NULL) == SQLITE_OK;
	if (ok) {
		sqlite3_bind_int64(st, 1, stamp);
		sqlite3_bind_int(st, 2, complete);
		sqlite3_bind_int64(st, 3, scope);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	sqlite3_finalize(st);
	ok = ok && bump(l, scope, gen_before) == 0;
	if (ok)
		ok = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	if (!ok) {
		failed(l);
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&l->lock);
	return ok ? marked : -1;
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
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT target, sent, unchanged, superseded, absent, rejected FROM "
			       "file_targets WHERE file_id = ? ORDER BY rowid",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, file_id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			long long n[KC_N];
			for (int i = 0; i < KC_N; i++)
				n[i] = sqlite3_column_int64(st, i + 1);
			fn(ctx, (const char *)sqlite3_column_text(st, 0), n);
		}
		rc = 0;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}
