#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "util/log.h"
#include "util/xalloc.h"

char *ledger_location(const char *configured, const char *state)
{
	return configured && *configured ? xstrdup(configured) : xasprintf("%s/ledger.db", state);
}

int ledger_is_file(const char *location)
{
	return !db_location_is_pg(location);
}

struct ledger *ledger_open(const char *location, struct buf *err)
{
	struct ledger *l = xcalloc(1, sizeof(*l));

	if ((l->db = db_open(location, err)) == NULL) {
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
	db_close(l->db);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int ledger_failed(const struct ledger *l)
{
	return __atomic_load_n(&l->failed, __ATOMIC_RELAXED); /* read by every thread */
}

void ledger_idle(struct ledger *l)
{
	db_idle(l->db);
}

void ledger_mark_failed(struct ledger *l)
{
	int lost = db_lost(l->db);

	if (lost)
		__atomic_store_n(&l->lost, 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&l->failed, 1, __ATOMIC_RELAXED) && lost)
		return; /* told once while the server is away */
	if (lost)
		log_simple(LOG_WARN, "ledger_lost",
			   "the ledger's server is away: work pauses until it is back: %s",
			   db_error(l->db));
	else
		log_simple(LOG_ERROR, "ledger_failed", "%s", db_error(l->db));
}

int ledger_write_end(struct ledger *l, int rc)
{
	if (rc == 0 && db_commit(l->db) != 0)
		rc = -1;
	if (rc != 0)
		db_rollback(l->db);
	if (rc < 0)
		ledger_mark_failed(l);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int ledger_lost(const struct ledger *l)
{
	return __atomic_load_n(&l->lost, __ATOMIC_RELAXED);
}

int ledger_reconnect(struct ledger *l)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = db_reconnect(l->db);
	if (rc == 0) {
		__atomic_store_n(&l->lost, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&l->failed, 0, __ATOMIC_RELAXED);
		log_simple(LOG_INFO, "ledger_back", "the ledger's server answers again");
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* step_va: one statement with its parameters, no rows; the lock held. */
static int step_va(struct ledger *l, const char *sql, const char *types, va_list ap)
{
	struct db_stmt *st = db_prepare(l->db, sql);
	int rc;

	if (st == NULL)
		return -1;
	db_bind_va(st, types, ap);
	rc = db_step(st);
	db_finalize(st);
	return rc == DB_DONE ? 0 : -1;
}

int ledger_step(struct ledger *l, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	va_start(ap, types);
	rc = step_va(l, sql, types, ap);
	va_end(ap);
	return rc;
}

/* run: one statement with text/int64 parameters ("s" or "i" per ?), no rows. */
int ledger_run(struct ledger *l, const char *sql, const char *types, ...)
{
	va_list ap;
	int rc;

	pthread_mutex_lock(&l->lock);
	va_start(ap, types);
	rc = step_va(l, sql, types, ap);
	va_end(ap);
	if (rc < 0)
		ledger_mark_failed(l);
	pthread_mutex_unlock(&l->lock);
	return rc;
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

	if (ledger_add_group(l, partner, &feed, 1, name, path, size, force, ST_RECEIVED, path, NULL,
			     &id) < 0)
		return -1;
	return id;
}

/*
 * insert_row: one row in state (received, or an end state with message and
 * its finish time) and its first event; the caller holds the lock.
 */
static long long insert_row(struct ledger *l, const char *partner, const char *feed,
			    const char *name, const char *path, long long size, int force,
			    const char *state, const char *message, const struct ledger_lane *lane,
			    const char *ident)
{
	int received = strcmp(state, ST_RECEIVED) == 0;
	struct db_stmt *st;
	long long id = -1;

	/* a file another node claimed already (the same identity) adds no row: 0 */
	st = db_prepare(l->db, "INSERT INTO files (partner, feed, name, path, size, force, "
			       "state, message, received, finished, lane, stamp, owner, epoch, "
			       "ident) VALUES (?, ?, ?, ?, ?, ?, ?, ?, strftime('%s','now'), CASE "
			       "WHEN ? <> 0 THEN 0 ELSE strftime('%s','now') END, ?, ?, ?, ?, ?) "
			       "ON CONFLICT DO NOTHING RETURNING id");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, partner);
	db_bind_text(st, 2, feed);
	db_bind_text(st, 3, name);
	db_bind_text(st, 4, path);
	db_bind_int64(st, 5, size);
	db_bind_int64(st, 6, force);
	db_bind_text(st, 7, state);
	db_bind_text(st, 8, received ? "" : message);
	db_bind_int64(st, 9, received);
	db_bind_text(st, 10, lane && lane->lane ? lane->lane : feed);
	db_bind_int64(st, 11, lane ? lane->stamp : 0);
	db_bind_text(st, 12, l->node);
	db_bind_int64(st, 13, l->epoch);
	db_bind_text(st, 14, ident ? ident : "");
	switch (db_step(st)) {
	case DB_ROW:
		id = db_column_int64(st, 0);
		if (db_step(st) != DB_DONE)
			id = -1;
		break;
	case DB_DONE:
		id = 0;
		break;
	default:
		id = -1;
	}
	db_finalize(st);
	if (id == 0)
		return 0;
	if (id < 0 || ledger_step(l, "INSERT INTO events VALUES (?, strftime('%s','now'), ?, ?)",
				  "iss", id, state, message) < 0)
		return -1;
	return id;
}

int ledger_add_claim(struct ledger *l, const char *partner, const char *const *feeds, size_t n,
		     const char *name, const char *path, long long size, const char *ident,
		     const char *state, const char *message, const struct ledger_lane *lanes,
		     long long *ids)
{
	int ok, lost = 0;

	pthread_mutex_lock(&l->lock);
	ok = db_begin(l->db) == 0;
	for (size_t i = 0; ok && !lost && i < n; i++) {
		ids[i] = insert_row(l, partner, feeds[i], name, path, size, 0, state, message,
				    lanes ? &lanes[i] : NULL, ident);
		ok = ids[i] >= 0;
		lost = ids[i] == 0;
	}
	return ledger_write_end(l, !ok ? -1 : lost);
}

int ledger_add_group(struct ledger *l, const char *partner, const char *const *feeds, size_t n,
		     const char *name, const char *path, long long size, int force,
		     const char *state, const char *message, const struct ledger_lane *lanes,
		     long long *ids)
{
	int ok;

	pthread_mutex_lock(&l->lock);
	ok = db_begin(l->db) == 0;
	for (size_t i = 0; ok && i < n; i++)
		ok = (ids[i] = insert_row(l, partner, feeds[i], name, path, size, force, state,
					  message, lanes ? &lanes[i] : NULL, NULL)) > 0;
	return ledger_write_end(l, ok ? 0 : -1);
}

void ledger_copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

char *ledger_strdup(const char *src)
{
	return xstrdup(src ? src : "");
}

static void row_to_file(struct db_stmt *st, struct ledger_file *f)
{
	memset(f, 0, sizeof(*f));
	f->id = db_column_int64(st, 0);
	ledger_copy_text(f->partner, sizeof(f->partner), db_column_text(st, 1));
	ledger_copy_text(f->feed, sizeof(f->feed), db_column_text(st, 2));
	ledger_copy_text(f->name, sizeof(f->name), db_column_text(st, 3));
	ledger_copy_text(f->sha256, sizeof(f->sha256), db_column_text(st, 4));
	f->size = db_column_int64(st, 5);
	ledger_copy_text(f->state, sizeof(f->state), db_column_text(st, 6));
	ledger_copy_text(f->path, sizeof(f->path), db_column_text(st, 7));
	f->received = (time_t)db_column_int64(st, 8);
	f->finished = (time_t)db_column_int64(st, 9);
	f->next_try = (time_t)db_column_int64(st, 10);
	f->rows = (long)db_column_int64(st, 11);
	f->rows_ok = (long)db_column_int64(st, 12);
	f->rows_rejected = (long)db_column_int64(st, 13);
	f->batches = (long)db_column_int64(st, 14);
	f->attempts = (int)db_column_int64(st, 15);
	ledger_copy_text(f->message, sizeof(f->message), db_column_text(st, 16));
	f->force = (int)db_column_int64(st, 17);
	ledger_copy_text(f->lane, sizeof(f->lane), db_column_text(st, 18));
	f->stamp = db_column_int64(st, 19);
}

#define FILE_COLUMNS                                                                               \
	"id, partner, feed, name, sha256, size, state, path, received, finished, next_try, rows, " \
	"rows_ok, rows_rejected, batches, attempts, message, force, lane, stamp"

int ledger_get(struct ledger *l, long long id, struct ledger_file *f)
{
	struct db_stmt *st;
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT " FILE_COLUMNS " FROM files WHERE id = ?")) != NULL) {
		db_bind_int64(st, 1, id);
		if (db_step(st) == DB_ROW) {
			row_to_file(st, f);
			rc = 0;
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/*
 * file_write: an UPDATE of file id (its SET and parameters), with the event
 * (state NULL: none) in the same commit, when this node still holds the file
 * (nodes.h: a fenced write changes nothing and the job stops). 0, or -1: the
 * ledger failed, or the file is another node's now (ledger_fenced).
 */
static int file_write(struct ledger *l, long long id, const char *state, const char *message,
		      const char *set, const char *types, ...)
{
	/* the fence is in the UPDATE: no row comes back when another node holds the file */
	char *sql = xasprintf("UPDATE files SET %s WHERE id = ?%s RETURNING id", set,
			      l->node[0] ? " AND owner = ? AND epoch = ?" : "");
	int nt = (int)strlen(types), rc, held = 0;
	struct db_stmt *st;
	va_list ap;

	pthread_mutex_lock(&l->lock);
	/* with its event, one commit; alone, one statement */
	rc = state ? db_begin(l->db) : 0;
	if (rc == 0 && (st = db_prepare(l->db, sql)) != NULL) {
		va_start(ap, types);
		db_bind_va(st, types, ap);
		va_end(ap);
		db_bind_int64(st, nt + 1, id);
		if (l->node[0]) {
			db_bind_text(st, nt + 2, l->node);
			db_bind_int64(st, nt + 3, l->epoch);
		}
		rc = db_step(st);
		held = rc == DB_ROW || !l->node[0]; /* a command: as before, no row is no news */
		while (rc == DB_ROW)
			rc = db_step(st);
		rc = rc == DB_DONE ? 0 : -1;
		db_finalize(st);
	} else if (rc == 0) {
		rc = -1;
	}
	if (rc == 0 && held && state)
		rc = ledger_step(l, "INSERT INTO events VALUES (?, strftime('%s','now'), ?, ?)",
				 "iss", id, state, message ? message : "");
	if (rc == 0 && held && state)
		rc = db_commit(l->db);
	if (state && (rc < 0 || !held))
		db_rollback(l->db);
	if (rc < 0)
		ledger_mark_failed(l);
	else if (!held && l->node[0])
		ledger_fence_lost(l, id);
	pthread_mutex_unlock(&l->lock);
	free(sql);
	return rc < 0 || !held ? -1 : 0;
}

int ledger_set_state(struct ledger *l, long long id, const char *state, const char *message)
{
	int final = !strcmp(state, ST_DONE) || !strcmp(state, ST_PARTIAL) ||
		    !strcmp(state, ST_FAILED) || !strcmp(state, ST_DUPLICATE) ||
		    !strcmp(state, ST_STALE) || !strcmp(state, ST_REFUSED);

	return file_write(l, id, state, message,
			  final ? "state = ?, message = ?, finished = strftime('%s','now')"
				: "state = ?, message = ?",
			  "ss", state, message ? message : "");
}

int ledger_set_path(struct ledger *l, long long id, const char *path, const char *sha256)
{
	return file_write(l, id, NULL, NULL,
			  "path = ?, sha256 = CASE WHEN ? = '' THEN sha256 ELSE ? END", "sss",
			  path, sha256 ? sha256 : "", sha256 ? sha256 : "");
}

int ledger_set_counts(struct ledger *l, long long id, long rows, long ok, long rejected,
		      long batches)
{
	return file_write(l, id, NULL, NULL,
			  "rows = ?, rows_ok = ?, rows_rejected = ?, batches = ?", "iiii",
			  (long long)rows, (long long)ok, (long long)rejected, (long long)batches);
}

int ledger_defer(struct ledger *l, long long id, time_t next_try, const char *message)
{
	return file_write(l, id, ST_DEFERRED, message,
			  "state = 'deferred', next_try = ?, attempts = attempts + 1, message = ?",
			  "is", (long long)next_try, message);
}

long long ledger_single_int(struct ledger *l, const char *sql, const char *types, ...)
{
	struct db_stmt *st;
	va_list ap;
	long long v = 0;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, sql)) != NULL) {
		va_start(ap, types);
		db_bind_va(st, types, ap);
		va_end(ap);
		if (db_step(st) == DB_ROW)
			v = db_column_int64(st, 0);
		db_finalize(st);
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
	return file_write(l, id, ST_RECEIVED, message,
			  "next_try = CASE WHEN state = 'received' THEN ? ELSE next_try END, "
			  "attempts = CASE WHEN state = 'received' THEN attempts + 1 ELSE attempts "
			  "END, message = CASE WHEN state = 'received' THEN ? ELSE message END",
			  "is", (long long)next_try, message);
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
	struct db_stmt *st;
	char *sql = xasprintf("SELECT " FILE_COLUMNS " FROM files WHERE %s ORDER BY id %s LIMIT %d",
			      where, asc ? "ASC" : "DESC", limit);
	struct ledger_file *rows = NULL;
	size_t n = 0;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, sql)) != NULL) {
		while (db_step(st) == DB_ROW) {
			rows = xreallocarray(rows, n + 1, sizeof(*rows));
			row_to_file(st, &rows[n++]);
		}
		db_finalize(st);
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
	char *qpath = db_quote(path), *qstate = db_quote(state);
	char *where = xasprintf("path = %s AND state = %s", qpath, qstate);
	int rc = ledger_each(l, where, 1, 1000, fn, ctx);

	free(where);
	free(qpath);
	free(qstate);
	return rc;
}

int ledger_events(struct ledger *l, long long id,
		  void (*fn)(void *ctx, time_t ts, const char *state, const char *message),
		  void *ctx)
{
	struct db_stmt *st;

	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT ts, state, message FROM events WHERE file_id = ? "
				    "ORDER BY rowid")) != NULL) {
		db_bind_int64(st, 1, id);
		while (db_step(st) == DB_ROW)
			fn(ctx, (time_t)db_column_int64(st, 0), db_column_text(st, 1),
			   db_column_text(st, 2));
		db_finalize(st);
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
	struct db_stmt *st;
	int rc = -1;

	value[0] = '\0';
	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, "SELECT value FROM notes WHERE key = ?")) != NULL) {
		db_bind_text(st, 1, key);
		if (db_step(st) == DB_ROW) {
			ledger_copy_text(value, size, db_column_text(st, 0));
			rc = 0;
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}
