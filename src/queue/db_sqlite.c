/*
 * db_sqlite - db.h on SQLite: the ledger in one file (WAL, synchronous FULL),
 * its schema and the SQLite spelling of the dialect statements.
 */
#include "config.h"

#include <sqlite3.h>
#include <stdlib.h>

#include "queue/db.h"
#include "queue/db_backend.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct sq_db {
	struct db base;
	sqlite3 *h;
	sqlite3 *ckpt; /* sq_idle's own handle: a checkpoint takes no ledger lock */
	char *path;
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS files ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, partner TEXT NOT NULL, feed TEXT NOT NULL,"
    " name TEXT NOT NULL, sha256 TEXT NOT NULL DEFAULT '', size INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL, path TEXT NOT NULL, received INTEGER NOT NULL,"
    " finished INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0,"
    " rows INTEGER NOT NULL DEFAULT 0, rows_ok INTEGER NOT NULL DEFAULT 0,"
    " rows_rejected INTEGER NOT NULL DEFAULT 0, batches INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',"
    " force INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS files_same ON files (partner, feed, sha256);"
    "CREATE INDEX IF NOT EXISTS files_state ON files (state);"
    "CREATE TABLE IF NOT EXISTS batches ("
    " file_id INTEGER NOT NULL REFERENCES files(id), target TEXT NOT NULL, seq INTEGER NOT NULL,"
    " state TEXT NOT NULL, answer TEXT NOT NULL DEFAULT '', changed INTEGER NOT NULL,"
    " PRIMARY KEY (file_id, target, seq));"
    "CREATE TABLE IF NOT EXISTS events ("
    " file_id INTEGER NOT NULL, ts INTEGER NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_file ON events (file_id);"
    "CREATE TABLE IF NOT EXISTS notes (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS requests ("
    " file_id INTEGER NOT NULL REFERENCES files(id), target TEXT NOT NULL, seq INTEGER NOT NULL,"
    " sub INTEGER NOT NULL, rows TEXT NOT NULL, state TEXT NOT NULL,"
    " answer TEXT NOT NULL DEFAULT '', changed INTEGER NOT NULL,"
    " PRIMARY KEY (file_id, target, seq, sub));"
    /* the key store (keys.c) */
    "CREATE TABLE IF NOT EXISTS key_scopes ("
    " id INTEGER PRIMARY KEY, partner TEXT NOT NULL, sequence TEXT NOT NULL,"
    " target TEXT NOT NULL, full_stamp INTEGER NOT NULL DEFAULT 0,"
    " complete_stamp INTEGER NOT NULL DEFAULT 0, UNIQUE (partner, sequence, target));"
    "CREATE TABLE IF NOT EXISTS keys ("
    " scope INTEGER NOT NULL, key TEXT NOT NULL, khash INTEGER NOT NULL,"
    " digest INTEGER NOT NULL, stamp INTEGER NOT NULL, in_full INTEGER NOT NULL DEFAULT 0,"
    " header TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (scope, khash)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS keys_brief ON keys (scope, khash, digest, stamp, in_full);"
    "CREATE INDEX IF NOT EXISTS keys_not_full ON keys (scope) WHERE in_full = 0;"
    /* what a file's rows came to, per target (the sift's counts, then Commerce's) */
    "CREATE TABLE IF NOT EXISTS file_targets ("
    " file_id INTEGER NOT NULL REFERENCES files(id), target TEXT NOT NULL,"
    " sent INTEGER NOT NULL DEFAULT 0, unchanged INTEGER NOT NULL DEFAULT 0,"
    " superseded INTEGER NOT NULL DEFAULT 0, absent INTEGER NOT NULL DEFAULT 0,"
    " rejected INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (file_id, target));"
    /* the REST operations of a file (operations.c) */
    "CREATE TABLE IF NOT EXISTS operations ("
    " file_id INTEGER NOT NULL REFERENCES files(id), target TEXT NOT NULL, no INTEGER NOT NULL,"
    " state TEXT NOT NULL, uuid TEXT NOT NULL DEFAULT '', bulk_op INTEGER NOT NULL DEFAULT 0,"
    " tries INTEGER NOT NULL DEFAULT 0, before TEXT NOT NULL DEFAULT '',"
    " result TEXT NOT NULL DEFAULT '', changed INTEGER NOT NULL,"
    " PRIMARY KEY (file_id, target, no));";

static const char *const migrations[] = {
    /* 1: a file's lane (its partner's sequence, else its feed) and stamp */
    "ALTER TABLE files ADD COLUMN lane TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE files ADD COLUMN stamp INTEGER NOT NULL DEFAULT 0;"
    "UPDATE files SET lane = feed;"
    "CREATE INDEX IF NOT EXISTS files_lane ON files (partner, lane, state);",
    /* 2: a key scope's generation, bumped by every write to its entries (keys.c):
       what a copy of the scope in the daemon's memory checks before it is used */
    "ALTER TABLE key_scopes ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;",
    /* 3: a scope's recent writes apart (keys.c): a night's 20,000 changed keys of a
       million rewrote most pages of keys and its index (0.45 s); they go to a
       small table folded in when it grows past an eighth of the keys (keys_n,
       counted when keys is written). keys_now
       is what the two say together (a recent row is never older than its key's
       row in keys: keys.c) */
    "ALTER TABLE key_scopes ADD COLUMN keys_n INTEGER NOT NULL DEFAULT 0;"
    "UPDATE key_scopes SET keys_n = (SELECT count(*) FROM keys WHERE scope = key_scopes.id);"
    "CREATE TABLE IF NOT EXISTS keys_recent ("
    " scope INTEGER NOT NULL, key TEXT NOT NULL, khash INTEGER NOT NULL,"
    " digest INTEGER NOT NULL, stamp INTEGER NOT NULL, in_full INTEGER NOT NULL DEFAULT 0,"
    " header TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (scope, khash)) WITHOUT ROWID;"
    "CREATE VIEW IF NOT EXISTS keys_now AS "
    "SELECT k.scope, k.key, k.khash, k.digest, k.stamp, k.in_full, k.header, k.row FROM keys k "
    "WHERE NOT EXISTS (SELECT 1 FROM keys_recent r WHERE r.scope = k.scope AND r.khash = k.khash) "
    "UNION ALL SELECT r.scope, r.key, r.khash, r.digest, r.stamp, CASE WHEN EXISTS (SELECT 1 "
    "FROM keys k WHERE k.scope = r.scope AND k.khash = r.khash AND k.in_full = 1) THEN 1 "
    "ELSE r.in_full END, r.header, r.row FROM keys_recent r;",
    /* 4: the nodes sharing the ledger (nodes.h; on SQLite the one appliance): each
       node's lease and epoch, who holds a file, a file's identity for its one
       claim, which node works a lane */
    "CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, host TEXT NOT NULL,"
    " pid INTEGER NOT NULL, started INTEGER NOT NULL, renewed INTEGER NOT NULL,"
    " epoch INTEGER NOT NULL, lease INTEGER NOT NULL);"
    "ALTER TABLE files ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE files ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE files ADD COLUMN ident TEXT NOT NULL DEFAULT '';"
    "CREATE UNIQUE INDEX IF NOT EXISTS files_claim ON files (partner, feed, name, ident)"
    " WHERE ident <> '';"
    "CREATE TABLE IF NOT EXISTS lanes (partner TEXT NOT NULL, lane TEXT NOT NULL,"
    " owner TEXT NOT NULL, epoch INTEGER NOT NULL, PRIMARY KEY (partner, lane));",
};

/* a key's stamp, as keys_stamp_of (queue/keys.h) computes it */
#define STAMP_SQL "max(k.stamp, CASE WHEN k.in_full THEN s.full_stamp ELSE 0 END, s.complete_stamp)"

static const char *const dialect[DBQ_N] = {
    [DBQ_KEYS_PUT] = DBQ_KEYS_INTO("keys") "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
	DBQ_KEYS_UPSERT("keys", "max"),
    [DBQ_KEYS_PUT_RECENT] =
	DBQ_KEYS_INTO("keys_recent") "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS "
	"(SELECT 1 FROM keys INDEXED BY keys_brief WHERE scope = ?1 AND khash = ?3 AND "
	"stamp > ?5) " DBQ_KEYS_UPSERT("keys_recent", "max"),
    [DBQ_KEYS_PUT_RECENT_PROVEN] = DBQ_KEYS_INTO("keys_recent")
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) " DBQ_KEYS_UPSERT("keys_recent", "max"),
    [DBQ_KEYS_FOLD] =
	DBQ_KEYS_INTO("keys") "SELECT scope, key, khash, digest, stamp, in_full, header, row "
	"FROM keys_recent WHERE scope = ?1 ORDER BY khash " DBQ_KEYS_UPSERT("keys", "max"),
    /* the covering index keys_brief: the rows' text is not read */
    [DBQ_KEYS_LOAD] = "SELECT khash, digest, stamp, in_full FROM keys INDEXED BY keys_brief "
		      "WHERE scope = ?1 ORDER BY khash",
    /* through the partial index: without it SQLite's planner reads every key of the
       scope (0.3 s for a million) to find the few that change */
    [DBQ_KEYS_MARK_FULL] = "UPDATE keys INDEXED BY keys_not_full SET in_full = 1 "
			   "WHERE scope = ?1 AND in_full = 0",
    [DBQ_KEYS_SCOPE_STAMP] = "UPDATE key_scopes SET full_stamp = max(full_stamp, ?1), "
			     "complete_stamp = CASE WHEN ?2 THEN max(complete_stamp, ?1) "
			     "ELSE complete_stamp END WHERE id = ?3",
    [DBQ_PICTURE_EACH] =
	"SELECT k.key, k.header, k.row, " STAMP_SQL " AS t, s.partner "
	"FROM keys_now k JOIN key_scopes s ON s.id = k.scope "
	"WHERE s.sequence = ?1 AND s.target = ?2 ORDER BY k.key, t DESC, s.partner",
    /* one appliance is the only node: every lock is granted (BEGIN IMMEDIATE
       already serialises its writers) */
    [DBQ_LOCK_TRY] = "SELECT ?1 IS NOT NULL",
    [DBQ_LOCK_RELEASE] = "SELECT ?1",
    [DBQ_LOCK_XACT] = "SELECT ?1",
    /* BEGIN IMMEDIATE holds the one write lock already */
    [DBQ_FILE_TAKE] = "SELECT id, state FROM files WHERE id = ?1",
};

/* AUTOCHECKPOINT: the WAL's pages before a commit copies it back itself (sq_idle) */
#define AUTOCHECKPOINT "16384"

static struct db *sq_open(const char *location, struct buf *err)
{
	struct sq_db *d = xcalloc(1, sizeof(*d));

	d->base.ops = &db_sqlite_ops;
	/* wait for a lock rather than fail: status, show and redrop open the ledger
	   beside the daemon, and a restart after kill -9 recovers the WAL */
	if (sqlite3_open_v2(location, &d->h,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(d->h, 10000) != SQLITE_OK ||
	    sqlite3_exec(d->h,
			 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
			 "PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = " AUTOCHECKPOINT ";",
			 NULL, NULL, NULL) != SQLITE_OK) {
		buf_printf(err, "cannot open the ledger %s: %s", location, sqlite3_errmsg(d->h));
		sqlite3_close(d->h);
		free(d);
		return NULL;
	}
	d->path = xstrdup(location);
	return &d->base;
}

/*
 * sq_idle: the WAL copied back into the database by a handle of its own, so no
 * file waits for it: a commit that finds the WAL past wal_autocheckpoint copies
 * it itself (8 MB and two fsyncs in a night's snapshot, with the ledger's
 * lock held). The daemon calls this every few seconds; PASSIVE waits for no
 * reader or writer. The commit's own checkpoint stays as the backstop, at
 * AUTOCHECKPOINT pages (64 MB) instead of SQLite's 1,000.
 */
static void sq_idle(struct db *db)
{
	struct sq_db *d = (struct sq_db *)db;

	if (d->ckpt == NULL &&
	    (sqlite3_open_v2(d->path, &d->ckpt, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	     sqlite3_busy_timeout(d->ckpt, 1000) != SQLITE_OK)) {
		sqlite3_close(d->ckpt);
		d->ckpt = NULL;
		return;
	}
	sqlite3_wal_checkpoint_v2(d->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static sqlite3 *H(struct db *db)
{
	return ((struct sq_db *)db)->h;
}

static sqlite3_stmt *S(struct db_stmt *st)
{
	return ((struct sq_stmt *)st)->st;
}

static void sq_close(struct db *db)
{
	struct sq_db *d = (struct sq_db *)db;

	sqlite3_close(d->ckpt);
	sqlite3_close(d->h);
	free(d->path);
	free(d);
}

static const char *sq_error(struct db *db)
{
	return sqlite3_errmsg(H(db));
}

static int sq_exec(struct db *db, const char *script)
{
	return sqlite3_exec(H(db), script, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int sq_begin(struct db *db)
{
	return sq_exec(db, "BEGIN IMMEDIATE");
}

static int sq_commit(struct db *db)
{
	return sq_exec(db, "COMMIT");
}

static void sq_rollback(struct db *db)
{
	sqlite3_exec(H(db), "ROLLBACK", NULL, NULL, NULL);
}

static struct db_stmt *sq_prepare(struct db *db, const char *sql, int stream)
{
	sqlite3_stmt *h;
	struct sq_stmt *st;

	(void)stream; /* SQLite's rows always come as they are read */
	if (sqlite3_prepare_v2(H(db), sql, -1, &h, NULL) != SQLITE_OK)
		return NULL;
	st = xmalloc(sizeof(*st));
	st->base.db = db;
	st->st = h;
	return &st->base;
}

static void sq_bind_text(struct db_stmt *st, int i, const char *text)
{
	sqlite3_bind_text(S(st), i, text, -1, SQLITE_STATIC);
}

static void sq_bind_int64(struct db_stmt *st, int i, long long v)
{
	sqlite3_bind_int64(S(st), i, v);
}

static int sq_step(struct db_stmt *st)
{
	int rc = sqlite3_step(S(st));

	return rc == SQLITE_ROW ? DB_ROW : rc == SQLITE_DONE ? DB_DONE : DB_ERROR;
}

static int sq_step_batch(struct db_stmt *st)
{
	int rc = sqlite3_step(S(st));

	sqlite3_reset(S(st));
	return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_column_count(struct db_stmt *st)
{
	return sqlite3_column_count(S(st));
}

static long long sq_column_int64(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(S(st), i);
}

static const char *sq_column_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(S(st), i);
}

static void sq_reset(struct db_stmt *st)
{
	sqlite3_reset(S(st));
}

static void sq_finalize(struct db_stmt *st)
{
	sqlite3_finalize(S(st));
	free(st);
}

const struct db_ops db_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .error = sq_error,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .prepare = sq_prepare,
    .bind_text = sq_bind_text,
    .bind_int64 = sq_bind_int64,
    .step = sq_step,
    .step_batch = sq_step_batch,
    .column_count = sq_column_count,
    .column_int64 = sq_column_int64,
    .column_text = sq_column_text,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .idle = sq_idle,
    .sql = dialect,
    .schema = schema,
    .migrations = migrations,
    .n_migrations = sizeof(migrations) / sizeof(migrations[0]),
    .schema_lock = NULL,
    .legacy_version = "PRAGMA user_version",
};
