/*
 * db - the database under the ledger: one connection to SQLite (a file path)
 * or PostgreSQL (a libpq URI or key=value conninfo), behind one interface.
 *
 * SQL above this layer is written once, with `?` (or `?N`) placeholders, in
 * the dialect both backends share; a statement whose text differs between
 * them is a named dialect statement (enum db_sql) that each backend spells its
 * own way, and each backend owns its schema and migrations. Nothing above
 * knows which backend is in use.
 *
 * Errors: every call that can fail returns -1 (or NULL) and leaves the text in
 * db_error(). Nothing here locks: the ledger serialises use of a connection.
 * Text bound to a statement must stay valid until the next db_step returns.
 */
#ifndef DG_DB_H
#define DG_DB_H

#include <stdarg.h>
#include <stddef.h>

struct buf;
struct db;
struct db_stmt;

/* db_step's answers */
enum { DB_ERROR = -1, DB_DONE = 0, DB_ROW = 1 };

/* statements whose SQL differs between the backends (db_sql) */
enum db_sql {
	DBQ_KEYS_PUT, /* upsert of a key: ?scope ?key ?khash ?digest ?stamp ?in_full ?header ?row */
	DBQ_KEYS_PUT_RECENT,  /* the same into keys_recent, unless keys holds a newer stamp */
	DBQ_KEYS_PUT_RECENT_PROVEN, /* the same, keys known to hold no newer stamp */
	DBQ_KEYS_FOLD,	      /* keys_recent's rows of scope ?1 upserted into keys */
	DBQ_KEYS_LOAD,	      /* a scope's briefs by khash: ?1 scope */
	DBQ_KEYS_MARK_FULL,   /* every key of a scope held by the full: ?1 scope */
	DBQ_KEYS_SCOPE_STAMP, /* ?1 stamp ?2 complete ?3 scope */
	DBQ_PICTURE_EACH,     /* a sequence's newest entries: ?1 sequence ?2 target */
	DBQ_LOCK_TRY,	      /* one row, 1 or true when the lock ?1 is now held (session) */
	DBQ_LOCK_RELEASE,     /* the session lock ?1 let go */
	DBQ_LOCK_XACT,	      /* the lock ?1 held to the transaction's end, waited for */
	DBQ_FILE_TAKE,	      /* file ?1's id and state, its row locked to the transaction's end;
				 no row when another node holds that lock (SKIP LOCKED) */
	DBQ_N
};

/* db_location_is_pg: the location names a PostgreSQL database (URI or conninfo). */
int db_location_is_pg(const char *location);
/* db_location_has_password: a PostgreSQL location that carries a password. */
int db_location_has_password(const char *location);

/* db_open: connect, create the schema or migrate it to the latest version; NULL and err. */
struct db *db_open(const char *location, struct buf *err);
void db_close(struct db *db);
/* db_backend: "sqlite" or "postgresql" (for logs and status, never for SQL) */
const char *db_backend(const struct db *db);
/* db_error: the last failure's text */
const char *db_error(struct db *db);

/* db_exec: a script of statements without parameters or rows. 0 or -1. */
int db_exec(struct db *db, const char *script);
/* db_begin: a write transaction (SQLite takes the write lock at once). 0 or -1. */
int db_begin(struct db *db);
int db_commit(struct db *db);
/* db_rollback: ends the transaction, never fails (a failed one is rolled back anyway). */
void db_rollback(struct db *db);

/* db_sql: a dialect statement's text for this backend. */
const char *db_sql(const struct db *db, enum db_sql which);

/* db_prepare: a statement; NULL on error. db_prepare_stream: one whose rows come as
   they are read (a big read: PostgreSQL's single-row mode); until it is done, reset or
   finalized the connection runs nothing else. */
struct db_stmt *db_prepare(struct db *db, const char *sql);
struct db_stmt *db_prepare_stream(struct db *db, const char *sql);
/* parameters are 1-based, as the placeholders */
void db_bind_text(struct db_stmt *st, int i, const char *text);
void db_bind_int64(struct db_stmt *st, int i, long long v);
/* db_bind_va: parameters by type letters, 's' text and 'i' long long, one per ?. */
void db_bind_va(struct db_stmt *st, const char *types, va_list ap);
/* db_step: the next row (DB_ROW), the end (DB_DONE) or DB_ERROR. */
int db_step(struct db_stmt *st);
/* db_step_batch: run a statement that returns no rows, inside db_begin..db_commit;
   the backend may send several before it waits (its failure then shows at db_commit).
   0 or -1. The statement is ready for new bindings after it. */
int db_step_batch(struct db_stmt *st);
/* columns of the current row, 0-based: NULL reads as 0 and as NULL text */
int db_column_count(struct db_stmt *st);
long long db_column_int64(struct db_stmt *st, int i);
const char *db_column_text(struct db_stmt *st, int i);
/* db_reset: ready to run again with new bindings */
void db_reset(struct db_stmt *st);
void db_finalize(struct db_stmt *st);

/*
 * Advisory locks, by a number both nodes agree on (an export's, say): on
 * PostgreSQL the server's advisory locks, shared by every node of the ledger;
 * on SQLite, where one appliance is the only node, always granted.
 * db_lock_try: 1 held now (until db_lock_release or the connection's end), 0
 * another holds it, -1 error. db_lock_xact: inside db_begin..db_commit, waits;
 * 0 or -1.
 */
int db_lock_try(struct db *db, long long key);
int db_lock_release(struct db *db, long long key);
int db_lock_xact(struct db *db, long long key);

/* db_lost: the connection to the server is gone (PostgreSQL restarted, the network cut);
   never for SQLite. db_reconnect: try to connect again; 0 connected (the statements
   prepared on the old connection forgotten), -1 not yet. */
int db_lost(struct db *db);
int db_reconnect(struct db *db);

/* db_idle: the backend's upkeep (SQLite: a checkpoint of its WAL), on a connection of
   its own: safe beside any other use of db. */
void db_idle(struct db *db);

/* db_quote: value as an SQL string literal ('it''s'), for the few WHERE texts built in C. */
char *db_quote(const char *value);

#endif
