#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = FULL;"
    "PRAGMA foreign_keys = ON;"
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
    " sub INTEGER NOT NULL, rows TEXT NOT NULL, state TEXT NOT NULL, answer TEXT NOT NULL DEFAULT "
    "'',"
    " changed INTEGER NOT NULL, PRIMARY KEY (file_id, target, seq, sub));"
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
    " rejected INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (file_id, target));";

/*
 * Migrations, by PRAGMA user_version: each step takes a ledger of the version
 * before to its own. A new ledger runs them all after the schema above.
 */
static const char *const migrations[] = {
    /* 1: a file's lane (its partner's sequence, else its feed) and stamp */
    "ALTER TABLE files ADD COLUMN lane TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE files ADD COLUMN stamp INTEGER NOT NULL DEFAULT 0;"
    "UPDATE files SET lane = feed;"
    "CREATE INDEX IF NOT EXISTS files_lane ON files (partner, lane, state);",
    /* 2: a key scope's generation, bumped by every write to its entries (keys.c):
       what a copy of the scope in the daemon's memory checks before it is used */
    "ALTER TABLE key_scopes ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;",
};

static int migrate(sqlite3 *db, char **msg)
{
	sqlite3_stmt *st;
	int version = 0;
	size_t n = sizeof(migrations) / sizeof(migrations[0]);

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	for (size_t v = (size_t)version; v < n; v++) {
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu;", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg) != SQLITE_OK)
			return -1;
		if (sqlite3_exec(db, migrations[v], NULL, NULL, msg) != SQLITE_OK ||
		    sqlite3_exec(db, pragma, NULL, NULL, msg) != SQLITE_OK ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, msg) != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

struct ledger *ledger_open(const char *path, struct buf *err)
{
	struct ledger *l = xcalloc(1, sizeof(*l));
	char *msg = NULL;

	/* wait for a lock rather than fail: status, show and redrop open the ledger
	   beside the daemon, and a restart after kill -9 recovers the WAL */
	if (sqlite3_open_v2(path, &l->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(l->db, 10000) != SQLITE_OK ||
	    sqlite3_exec(l->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(l->db, ledger_operations_schema, NULL, NULL, &msg) != SQLITE_OK ||
	    migrate(l->db, &msg) < 0) {
		buf_printf(err, "cannot open the ledger %s: %s", path,
			   msg ? msg : sqlite3_errmsg(l->db));
		sqlite3_free(msg);
		sqlite3_close(l->db);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

void ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_close(l->db);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int ledger_failed(const struct ledger *l)
{
	return __atomic_load_n(&l->failed, __ATOMIC_RELAXED); /* read by every thread */
}

/* bind_args: parameters by type letters, 's' text and 'i' int64, one per ?. */
void ledger_bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
	for (int i = 0; types[i]; i++) {
		if (types[i] == 's')
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1,
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, i + 1, va_arg(ap, long long));
	}
}

/* run: one statement with text/int64 parameters ("s" or "i" per ?), no rows. */
int ledger_run(struct ledger *l, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		va_start(ap, types);
		ledger_bind_args(st, types, ap);
		va_end(ap);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE) {
		__atomic_store_n(&l->failed, 1, __ATOMIC_RELAXED);
		log_simple(LOG_ERROR, "ledger_failed", "%s", sqlite3_errmsg(l->db));
	}
	pthread_mutex_unlock(&l->lock);
	return rc == SQLITE_DONE ? 0 : -1;
}

int ledger_event(struct ledger *l, long long id, const char *state, const char *message)
{
	return ledger_run(l, "INSERT INTO events VALUES (?, strftime('%s','now'), ?, ?)", "iss", id,
			  state, message ? message : "");
}

long long ledger_add(struct ledger *l, const char *partner, const char *feed, const char *name,
		     const char *path, long long size, int force)
{
	long long id;

	if (ledger_add_group(l, partner, &feed, 1, name, path, size, force, ST_RECEIVED, path,
			     NULL, &id) < 0)
		return -1;
	return id;
}

/*
 * insert_row: one row in state (received, or an end state with message and
 * its finish time) and its first event; the caller holds the lock.
 */
static long long insert_row(struct ledger *l, const char *partner, const char *feed,
			    const char *name, const char *path, long long size, int force,
			    const char *state, const char *message, const struct ledger_lane *lane)
{
	int received = strcmp(state, ST_RECEIVED) == 0;
	sqlite3_stmt *st;
	long long id = -1;

	if (sqlite3_prepare_v2(l->db,
			       "INSERT INTO files (partner, feed, name, path, size, force, "
			       "state, message, received, finished, lane, stamp) VALUES (?, ?, ?, "
			       "?, ?, ?, ?, ?, strftime('%s','now'), CASE WHEN ? THEN 0 ELSE "
			       "strftime('%s','now') END, ?, ?) RETURNING id",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, partner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, feed, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, size);
	sqlite3_bind_int(st, 6, force);
	sqlite3_bind_text(st, 7, state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, received ? "" : message, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 9, received);
	sqlite3_bind_text(st, 10, lane && lane->lane ? lane->lane : feed, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 11, lane ? lane->stamp : 0);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	if (sqlite3_step(st) != SQLITE_DONE)
		id = -1;
	sqlite3_finalize(st);
	if (id < 0 || sqlite3_prepare_v2(l->db,
					 "INSERT INTO events VALUES (?, strftime('%s','now'), "
					 "?, ?)",
					 -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, message, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		id = -1;
	sqlite3_finalize(st);
	return id;
}

int ledger_add_group(struct ledger *l, const char *partner, const char *const *feeds, size_t n,
		     const char *name, const char *path, long long size, int force,
		     const char *state, const char *message, const struct ledger_lane *lanes,
		     long long *ids)
{
	int ok;

	pthread_mutex_lock(&l->lock);
	ok = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < n; i++)
		ok = (ids[i] = insert_row(l, partner, feeds[i], name, path, size, force, state,
					  message, lanes ? &lanes[i] : NULL)) > 0;
	if (ok)
		ok = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	if (!ok) {
		__atomic_store_n(&l->failed, 1, __ATOMIC_RELAXED);
		log_simple(LOG_ERROR, "ledger_failed", "%s", sqlite3_errmsg(l->db));
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&l->lock);
	return ok ? 0 : -1;
}

void ledger_copy_text(char *dst, size_t size, const unsigned char *src)
{
	snprintf(dst, size, "%s", src ? (const char *)src : "");
}

static void row_to_file(sqlite3_stmt *st, struct ledger_file *f)
{
	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(st, 0);
	ledger_copy_text(f->partner, sizeof(f->partner), sqlite3_column_text(st, 1));
	ledger_copy_text(f->feed, sizeof(f->feed), sqlite3_column_text(st, 2));
	ledger_copy_text(f->name, sizeof(f->name), sqlite3_column_text(st, 3));
	ledger_copy_text(f->sha256, sizeof(f->sha256), sqlite3_column_text(st, 4));
	f->size = sqlite3_column_int64(st, 5);
	ledger_copy_text(f->state, sizeof(f->state), sqlite3_column_text(st, 6));
	ledger_copy_text(f->path, sizeof(f->path), sqlite3_column_text(st, 7));
	f->received = (time_t)sqlite3_column_int64(st, 8);
	f->finished = (time_t)sqlite3_column_int64(st, 9);
	f->next_try = (time_t)sqlite3_column_int64(st, 10);
	f->rows = (long)sqlite3_column_int64(st, 11);
	f->rows_ok = (long)sqlite3_column_int64(st, 12);
	f->rows_rejected = (long)sqlite3_column_int64(st, 13);
	f->batches = (long)sqlite3_column_int64(st, 14);
	f->attempts = sqlite3_column_int(st, 15);
	ledger_copy_text(f->message, sizeof(f->message), sqlite3_column_text(st, 16));
	f->force = sqlite3_column_int(st, 17);
	ledger_copy_text(f->lane, sizeof(f->lane), sqlite3_column_text(st, 18));
	f->stamp = sqlite3_column_int64(st, 19);
}

#define FILE_COLUMNS                                                                               \
	"id, partner, feed, name, sha256, size, state, path, received, finished, next_try, rows, " \
	"rows_ok, rows_rejected, batches, attempts, message, force, lane, stamp"

int ledger_get(struct ledger *l, long long id, struct ledger_file *f)
{
	sqlite3_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db, "SELECT " FILE_COLUMNS " FROM files WHERE id = ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			row_to_file(st, f);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int ledger_set_state(struct ledger *l, long long id, const char *state, const char *message)
{
	int final = !strcmp(state, ST_DONE) || !strcmp(state, ST_PARTIAL) ||
		    !strcmp(state, ST_FAILED) || !strcmp(state, ST_DUPLICATE) ||
		    !strcmp(state, ST_STALE) || !strcmp(state, ST_REFUSED);

	if (ledger_run(
		l,
		final ? "UPDATE files SET state = ?, message = ?, finished = strftime('%s','now') "
			"WHERE id = ?"
		      : "UPDATE files SET state = ?, message = ? WHERE id = ?",
		"ssi", state, message ? message : "", id) < 0)
		return -1;
	return ledger_event(l, id, state, message);
}

int ledger_set_path(struct ledger *l, long long id, const char *path, const char *sha256)
{
	return ledger_run(
	    l,
	    "UPDATE files SET path = ?, sha256 = CASE WHEN ? = '' THEN sha256 ELSE ? END "
	    "WHERE id = ?",
	    "sssi", path, sha256 ? sha256 : "", sha256 ? sha256 : "", id);
}

int ledger_set_counts(struct ledger *l, long long id, long rows, long ok, long rejected,
		      long batches)
{
	return ledger_run(l,
			  "UPDATE files SET rows = ?, rows_ok = ?, rows_rejected = ?, batches = ? "
			  "WHERE id = ?",
			  "iiiii", (long long)rows, (long long)ok, (long long)rejected,
			  (long long)batches, id);
}

int ledger_defer(struct ledger *l, long long id, time_t next_try, const char *message)
{
	if (ledger_run(
		l,
		"UPDATE files SET state = 'deferred', next_try = ?, attempts = attempts + 1, "
		"message = ? WHERE id = ?",
		"isi", (long long)next_try, message, id) < 0)
		return -1;
	return ledger_event(l, id, ST_DEFERRED, message);
}

long long ledger_single_int(struct ledger *l, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	long long v = 0;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) == SQLITE_OK) {
		va_start(ap, types);
		ledger_bind_args(st, types, ap);
		va_end(ap);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

long long ledger_find_same(struct ledger *l, long long id, const char *partner, const char *feed,
			   const char *sha256, const char *states_csv)
{
	return ledger_single_int(
	    l,
	    "SELECT id FROM files WHERE partner = ? AND feed = ? AND sha256 = ? AND id <> ? "
	    "AND instr(',' || ? || ',', ',' || state || ',') > 0 ORDER BY id DESC LIMIT 1",
	    "sssis", partner, feed, sha256, id, states_csv);
}

long long ledger_first_in_flight(struct ledger *l, const char *partner, const char *lane)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SELECT id FROM files WHERE partner = ? AND lane = ? AND state IN (%s) "
		 "ORDER BY %s, stamp, id LIMIT 1",
		 state_sql_list(STATE_IN_FLIGHT), LEDGER_STARTED_FIRST);
	return ledger_single_int(l, sql, "ss", partner, lane);
}

long long ledger_count_at(struct ledger *l, const char *path, const char *states_csv,
			  long long size)
{
	return ledger_single_int(
	    l,
	    "SELECT count(*) FROM files WHERE path = ? AND (? < 0 OR size = ?) "
	    "AND instr(',' || ? || ',', ',' || state || ',') > 0",
	    "siis", path, size, size, states_csv);
}

int ledger_claim_retry(struct ledger *l, long long id, time_t next_try, const char *message)
{
	if (ledger_run(l,
		       "UPDATE files SET next_try = ?, attempts = attempts + 1, message = ? "
		       "WHERE id = ? AND state = 'received'",
		       "isi", (long long)next_try, message, id) < 0)
		return -1;
	return ledger_event(l, id, ST_RECEIVED, message);
}

int ledger_in_flight_path(struct ledger *l, const char *path)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM files WHERE path = ? AND state IN (%s)",
		 state_sql_list(STATE_IN_FLIGHT));
	return ledger_single_int(l, sql, "s", path) > 0;
}

int ledger_each(struct ledger *l, const char *where, int asc, int limit,
		void (*fn)(void *ctx, const struct ledger_file *f), void *ctx)
{
	sqlite3_stmt *st;
	char *sql = xasprintf("SELECT " FILE_COLUMNS " FROM files WHERE %s ORDER BY id %s LIMIT %d",
			      where, asc ? "ASC" : "DESC", limit);
	struct ledger_file *rows = NULL;
	size_t n = 0;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			rows = xreallocarray(rows, n + 1, sizeof(*rows));
			row_to_file(st, &rows[n++]);
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	for (size_t i = 0; i < n; i++)
		fn(ctx, &rows[i]);
	free(rows);
	free(sql);
	return 0;
}

int ledger_each_at(struct ledger *l, const char *path, const char *state,
		   void (*fn)(void *ctx, const struct ledger_file *f), void *ctx)
{
	/* %Q quotes the values as SQL literals */
	char *where = sqlite3_mprintf("path = %Q AND state = %Q", path, state);
	int rc = ledger_each(l, where, 1, 1000, fn, ctx);

	sqlite3_free(where);
	return rc;
}

int ledger_events(struct ledger *l, long long id,
		  void (*fn)(void *ctx, time_t ts, const char *state, const char *message),
		  void *ctx)
{
	sqlite3_stmt *st;

	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db,
			       "SELECT ts, state, message FROM events WHERE file_id = ? "
			       "ORDER BY rowid",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW)
			fn(ctx, (time_t)sqlite3_column_int64(st, 0),
			   (const char *)sqlite3_column_text(st, 1),
			   (const char *)sqlite3_column_text(st, 2));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int ledger_note_set(struct ledger *l, const char *key, const char *value)
{
	return ledger_run(l,
			  "INSERT INTO notes VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
			  "value = excluded.value",
			  "ss", key, value);
}

int ledger_note_get(struct ledger *l, const char *key, char *value, size_t size)
{
	sqlite3_stmt *st;
	int rc = -1;

	value[0] = '\0';
	pthread_mutex_lock(&l->lock);
	if (sqlite3_prepare_v2(l->db, "SELECT value FROM notes WHERE key = ?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			ledger_copy_text(value, size, sqlite3_column_text(st, 0));
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}
