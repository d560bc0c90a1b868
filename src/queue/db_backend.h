/*
 * db_backend - what a backend of db.h provides: its operations, its dialect
 * statements, its schema and migrations. Only db.c and the backends
 * (db_sqlite.c, db_pg.c) include this.
 */
#ifndef DG_DB_BACKEND_H
#define DG_DB_BACKEND_H

#include <stddef.h>

#include "queue/db.h"

/* The key store's writes, the same in both dialects but for the greater of two (max,
   GREATEST): INTO a table's columns, and the upsert that keeps the newer stamp. */
#define DBQ_KEYS_INTO(table)                                                                       \
	"INSERT INTO " table " (scope, key, khash, digest, stamp, in_full, header, row) "
#define DBQ_KEYS_UPSERT(table, greatest)                                                           \
	"ON CONFLICT (scope, khash) DO UPDATE SET key = excluded.key, digest = excluded.digest, "  \
	"stamp = excluded.stamp, header = excluded.header, row = excluded.row, "                   \
	"in_full = " greatest "(" table ".in_full, excluded.in_full) "                             \
	"WHERE excluded.stamp >= " table ".stamp"

struct db_ops {
	const char *name;
	struct db *(*open)(const char *location, struct buf *err);
	void (*close)(struct db *db);
	const char *(*error)(struct db *db);
	int (*exec)(struct db *db, const char *script);
	int (*begin)(struct db *db);
	int (*commit)(struct db *db);
	void (*rollback)(struct db *db);
	struct db_stmt *(*prepare)(struct db *db, const char *sql, int stream);
	void (*bind_text)(struct db_stmt *st, int i, const char *text);
	void (*bind_int64)(struct db_stmt *st, int i, long long v);
	int (*step)(struct db_stmt *st);
	int (*step_batch)(struct db_stmt *st);
	int (*column_count)(struct db_stmt *st);
	long long (*column_int64)(struct db_stmt *st, int i);
	const char *(*column_text)(struct db_stmt *st, int i);
	void (*reset)(struct db_stmt *st);
	void (*finalize)(struct db_stmt *st);
	/* idle: upkeep between files, on a handle of its own (NULL: none) */
	void (*idle)(struct db *db);
	/* lost, reconnect: a server's connection (NULL: a file, never lost) */
	int (*lost)(struct db *db);
	int (*reconnect)(struct db *db);

	const char *const *sql; /* DBQ_N statements, by enum db_sql */
	/* the tables as they were at schema version 0, each CREATE ... IF NOT EXISTS */
	const char *schema;
	/* migrations[v] takes the schema from version v to v + 1 */
	const char *const *migrations;
	size_t n_migrations;
	/* run first in the schema's transaction: one node at a time creates or migrates */
	const char *schema_lock;
	/* the version a ledger kept before the schema_version table (SQLite's
	   PRAGMA user_version), or NULL */
	const char *legacy_version;
};

/* every backend's connection and statement start with these */
struct db {
	const struct db_ops *ops;
};

struct db_stmt {
	struct db *db;
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

#endif
