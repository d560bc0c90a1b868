/*
 * db - the backend-neutral half of db.h: which backend a location names, the
 * schema version table every backend keeps, and the calls that dispatch to
 * the backend's operations.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/db.h"
#include "queue/db_backend.h"
#include "util/buf.h"
#include "util/xalloc.h"

int db_location_is_pg(const char *location)
{
	const char *p = location;

	if (strncmp(location, "postgresql://", 13) == 0 ||
	    strncmp(location, "postgres://", 11) == 0)
		return 1;
	/* a key=value conninfo ("host=db1 dbname=dropgate"): a word, then '=' */
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '=';
}

/* has_key: conninfo text holds `password =` as a key (not inside a quoted value) */
static int conninfo_has_password(const char *s)
{
	int quoted = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p == '\'') {
			quoted = !quoted;
			continue;
		}
		if (quoted || (p != s && !isspace((unsigned char)p[-1])) ||
		    strncmp(p, "password", 8) != 0)
			continue;
		const char *q = p + 8;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '=')
			return 1;
	}
	return 0;
}

int db_location_has_password(const char *location)
{
	const char *auth, *end, *at;

	if (!db_location_is_pg(location))
		return 0;
	if (strncmp(location, "postgres", 8) != 0)
		return conninfo_has_password(location);
	/* a URI: user:password@ in the authority, or password= among the parameters */
	auth = strstr(location, "://") + 3;
	end = auth + strcspn(auth, "/?");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at && memchr(auth, ':', (size_t)(at - auth)))
		return 1;
	for (const char *q = strchr(location, '?'); q; q = strchr(q + 1, '&'))
		if (strncmp(q + 1, "password=", 9) == 0)
			return 1;
	return 0;
}

char *db_quote(const char *value)
{
	struct buf b = BUF_INIT(BUF_NOCAP);

	buf_addch(&b, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			buf_addch(&b, '\'');
		buf_addch(&b, *p);
	}
	buf_addch(&b, '\'');
	return buf_detach(&b);
}

/* schema_version: the version recorded (or the legacy one, recorded now); -1 on error */
static long long schema_version(struct db *db)
{
	struct db_stmt *st;
	long long v = -1;
	int rc;

	if (db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") < 0)
		return -1;
	if ((st = db_prepare(db, "SELECT version FROM schema_version")) == NULL)
		return -1;
	rc = db_step(st);
	if (rc == DB_ROW)
		v = db_column_int64(st, 0);
	db_finalize(st);
	if (rc != DB_DONE && rc != DB_ROW)
		return -1;
	if (rc == DB_ROW)
		return v;
	v = 0;
	if (db->ops->legacy_version) {
		if ((st = db_prepare(db, db->ops->legacy_version)) == NULL)
			return -1;
		if (db_step(st) == DB_ROW)
			v = db_column_int64(st, 0);
		db_finalize(st);
	}
	if ((st = db_prepare(db, "INSERT INTO schema_version VALUES (?)")) == NULL)
		return -1;
	db_bind_int64(st, 1, v);
	rc = db_step(st);
	db_finalize(st);
	return rc == DB_DONE ? v : -1;
}

/* migrate: the schema created, then taken to the latest version, in one transaction */
static int migrate(struct db *db, struct buf *err)
{
	const struct db_ops *o = db->ops;
	long long v;

	if (db_begin(db) < 0)
		goto fail;
	if ((o->schema_lock && db_exec(db, o->schema_lock) < 0) || db_exec(db, o->schema) < 0 ||
	    (v = schema_version(db)) < 0)
		goto fail;
	if (v > (long long)o->n_migrations) {
		buf_printf(err, "its schema is version %lld, newer than this dropgate knows (%zu)",
			   v, o->n_migrations);
		db_rollback(db);
		return -1;
	}
	for (size_t i = (size_t)v; i < o->n_migrations; i++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %zu", i + 1);
		if (db_exec(db, o->migrations[i]) < 0 || db_exec(db, sql) < 0)
			goto fail;
	}
	if (db_commit(db) < 0)
		goto fail;
	return 0;
fail:
	buf_printf(err, "%s", db_error(db));
	db_rollback(db);
	return -1;
}

struct db *db_open(const char *location, struct buf *err)
{
	const struct db_ops *o = db_location_is_pg(location) ? &db_pg_ops : &db_sqlite_ops;
	struct db *db;
	size_t at = err->len;

	if (db_location_has_password(location)) {
		buf_printf(err, "cannot open the ledger: its location carries a password (use "
				"PGPASSFILE or passfile=)");
		return NULL;
	}
	if ((db = o->open(location, err)) == NULL)
		return NULL;
	if (migrate(db, err) < 0) {
		struct buf why = BUF_INIT(4096);
		buf_printf(&why, "%s", buf_cstr(err) + at);
		buf_truncate(err, at);
		buf_printf(err, "cannot open the ledger %s: %s", location, buf_cstr(&why));
		buf_release(&why);
		db_close(db);
		return NULL;
	}
	return db;
}

void db_close(struct db *db)
{
	if (db)
		db->ops->close(db);
}

const char *db_backend(const struct db *db)
{
	return db->ops->name;
}

const char *db_error(struct db *db)
{
	return db->ops->error(db);
}

int db_exec(struct db *db, const char *script)
{
	return db->ops->exec(db, script);
}

int db_begin(struct db *db)
{
	return db->ops->begin(db);
}

int db_commit(struct db *db)
{
	return db->ops->commit(db);
}

void db_rollback(struct db *db)
{
	db->ops->rollback(db);
}

const char *db_sql(const struct db *db, enum db_sql which)
{
	return db->ops->sql[which];
}

struct db_stmt *db_prepare(struct db *db, const char *sql)
{
	return db->ops->prepare(db, sql, 0);
}

struct db_stmt *db_prepare_stream(struct db *db, const char *sql)
{
	return db->ops->prepare(db, sql, 1);
}

void db_bind_text(struct db_stmt *st, int i, const char *text)
{
	st->db->ops->bind_text(st, i, text);
}

void db_bind_int64(struct db_stmt *st, int i, long long v)
{
	st->db->ops->bind_int64(st, i, v);
}

void db_bind_va(struct db_stmt *st, const char *types, va_list ap)
{
	for (int i = 0; types[i]; i++) {
		if (types[i] == 's')
			db_bind_text(st, i + 1, va_arg(ap, const char *));
		else
			db_bind_int64(st, i + 1, va_arg(ap, long long));
	}
}

int db_step(struct db_stmt *st)
{
	return st->db->ops->step(st);
}

int db_step_batch(struct db_stmt *st)
{
	return st->db->ops->step_batch(st);
}

int db_column_count(struct db_stmt *st)
{
	return st->db->ops->column_count(st);
}

long long db_column_int64(struct db_stmt *st, int i)
{
	return st->db->ops->column_int64(st, i);
}

const char *db_column_text(struct db_stmt *st, int i)
{
	return st->db->ops->column_text(st, i);
}

void db_reset(struct db_stmt *st)
{
	st->db->ops->reset(st);
}

void db_idle(struct db *db)
{
	if (db->ops->idle)
		db->ops->idle(db);
}

int db_lost(struct db *db)
{
	return db->ops->lost ? db->ops->lost(db) : 0;
}

int db_reconnect(struct db *db)
{
	return db->ops->reconnect ? db->ops->reconnect(db) : 0;
}

void db_finalize(struct db_stmt *st)
{
	if (st)
		st->db->ops->finalize(st);
}

/* lock_run: a lock's dialect statement with its key; the first column of its row to *held */
static int lock_run(struct db *db, enum db_sql which, long long key, int *held)
{
	struct db_stmt *st = db_prepare(db, db_sql(db, which));
	int rc;

	if (st == NULL)
		return -1;
	db_bind_int64(st, 1, key);
	rc = db_step(st);
	if (rc == DB_ROW && held) {
		const char *t = db_column_text(st, 0);
		*held = t && (strcmp(t, "t") == 0 || strcmp(t, "1") == 0);
	}
	while (rc == DB_ROW)
		rc = db_step(st);
	db_finalize(st);
	return rc == DB_DONE ? 0 : -1;
}

int db_lock_try(struct db *db, long long key)
{
	int held = 0;

	return lock_run(db, DBQ_LOCK_TRY, key, &held) < 0 ? -1 : held;
}

int db_lock_release(struct db *db, long long key)
{
	return lock_run(db, DBQ_LOCK_RELEASE, key, NULL);
}

int db_lock_xact(struct db *db, long long key)
{
	return lock_run(db, DBQ_LOCK_XACT, key, NULL);
}
