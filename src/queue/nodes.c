/*
 * nodes - leases, takes and fences of the nodes sharing a ledger (nodes.h).
 * The nodes, lanes and files.owner/epoch/ident columns are in each backend's
 * migration 4 (db_sqlite.c, db_pg.c).
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/ledger.h"
#include "queue/ledger_db.h"
#include "queue/nodes.h"
#include "util/log.h"
#include "util/xalloc.h"

/* the database's clock in seconds, a number on both (SQLite's strftime gives text) */
#define NOW "CAST(strftime('%s','now') AS BIGINT)"

/* ALIVE(T): the holder T.owner, T.epoch is a node whose lease lives (the database's clock) */
#define ALIVE(t)                                                                                   \
	"EXISTS (SELECT 1 FROM nodes n WHERE n.name = " t ".owner AND n.epoch = " t ".epoch "   \
	"AND n.renewed + n.lease >= " NOW ")"

/* one_int: the first column of the statement's first row to *v; 1 a row, 0 none, -1 error */
static int one_int(struct ledger *l, const char *sql, long long *v, const char *types, ...)
{
	struct db_stmt *st = db_prepare(l->db, sql);
	va_list ap;
	int rc;

	if (st == NULL)
		return -1;
	va_start(ap, types);
	db_bind_va(st, types, ap);
	va_end(ap);
	rc = db_step(st);
	if (rc == DB_ROW && v)
		*v = db_column_int64(st, 0);
	if (rc == DB_ROW)
		rc = db_step(st) == DB_DONE ? 1 : -1;
	db_finalize(st);
	return rc == DB_ROW ? 1 : rc;
}

int ledger_node_register(struct ledger *l, const char *name, const char *host, long pid,
			 long lease)
{
	long long epoch = 0;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = one_int(l,
		     "INSERT INTO nodes (name, host, pid, started, renewed, epoch, lease) VALUES "
		     "(?, ?, ?, strftime('%s','now'), strftime('%s','now'), 1, ?) ON CONFLICT "
		     "(name) DO UPDATE SET host = excluded.host, pid = excluded.pid, started = "
		     "excluded.started, renewed = excluded.renewed, epoch = nodes.epoch + 1, "
		     "lease = excluded.lease RETURNING epoch",
		     &epoch, "ssii", name, host, (long long)pid, (long long)lease);
	if (rc == 1) {
		snprintf(l->node, sizeof(l->node), "%s", name);
		l->epoch = epoch;
		l->lease = lease;
	} else {
		ledger_mark_failed(l);
	}
	pthread_mutex_unlock(&l->lock);
	if (rc == 1)
		log_simple(LOG_INFO, "node_registered", "node %s epoch %lld lease %lds", name,
			   epoch, lease);
	return rc == 1 ? 0 : -1;
}

int ledger_node_renew(struct ledger *l)
{
	long long epoch = 0;
	int rc, lost = 0;

	pthread_mutex_lock(&l->lock);
	if (l->node[0] == '\0') {
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	rc = one_int(l,
		     "UPDATE nodes SET renewed = strftime('%s','now') WHERE name = ? AND epoch = ? "
		     "AND renewed + lease >= " NOW " RETURNING epoch",
		     NULL, "si", l->node, l->epoch);
	if (rc == 0) {
		/* expired: what it held may be another's now; a new epoch fences its old writes */
		lost = 1;
		rc = one_int(l,
			     "UPDATE nodes SET renewed = strftime('%s','now'), epoch = epoch + 1 "
			     "WHERE name = ? RETURNING epoch",
			     &epoch, "s", l->node);
		if (rc == 1)
			l->epoch = epoch;
	}
	if (rc < 0 && !l->failed)
		ledger_mark_failed(l);
	pthread_mutex_unlock(&l->lock);
	if (lost && rc == 1)
		log_simple(LOG_WARN, "lease_lost",
			   "node %s: the lease expired before it was renewed; what it held is "
			   "free for any node (epoch %lld now)",
			   l->node, epoch);
	return rc < 0 ? -1 : lost;
}

void ledger_node_leave(struct ledger *l)
{
	if (l->node[0] == '\0')
		return;
	ledger_run(l, "UPDATE nodes SET renewed = 0 WHERE name = ? AND epoch = ?", "si", l->node,
		   l->epoch);
}

const char *ledger_node_name(struct ledger *l)
{
	return l->node;
}

int ledger_take(struct ledger *l, long long id, const char *partner, const char *lane)
{
	struct db_stmt *st;
	int rc, taken = 0;

	pthread_mutex_lock(&l->lock);
	if (l->node[0] == '\0') {
		pthread_mutex_unlock(&l->lock);
		return 1; /* a command: no node, nothing shared */
	}
	rc = db_begin(l->db);
	/* the file's row locked first; a node taking it now holds that lock: skip it */
	if (rc == 0 && (st = db_prepare(l->db, db_sql(l->db, DBQ_FILE_TAKE))) != NULL) {
		db_bind_int64(st, 1, id);
		rc = db_step(st);
		if (rc == DB_ROW)
			taken = state_is(db_column_text(st, 1), STATE_IN_FLIGHT);
		while (rc == DB_ROW)
			rc = db_step(st);
		rc = rc == DB_DONE ? 0 : -1;
		db_finalize(st);
	} else if (rc == 0) {
		rc = -1;
	}
	/* the lane: free, this node's, or its holder's lease gone */
	if (rc == 0 && taken)
		taken = rc = one_int(
		    l,
		    "INSERT INTO lanes (partner, lane, owner, epoch) VALUES (?, ?, ?, ?) ON "
		    "CONFLICT (partner, lane) DO UPDATE SET owner = excluded.owner, epoch = "
		    "excluded.epoch WHERE lanes.owner = excluded.owner OR lanes.owner = '' OR "
		    "NOT " ALIVE("lanes") " RETURNING epoch",
		    NULL, "sssi", partner, lane, l->node, l->epoch);
	/* the file: claimed by none, by this node, or by a node whose lease is gone */
	if (rc >= 0 && taken)
		taken = rc = one_int(l,
				     "UPDATE files SET owner = ?, epoch = ? WHERE id = ? AND "
				     "(owner = '' OR owner = ? OR NOT " ALIVE("files") ") "
				     "RETURNING id",
				     NULL, "siis", l->node, l->epoch, id, l->node);
	if (rc >= 0 && taken)
		rc = db_commit(l->db);
	if (rc < 0 || !taken)
		db_rollback(l->db);
	/* taken again after it was lost once: its writes are this node's again */
	for (size_t i = 0; rc >= 0 && taken && i < sizeof(l->fenced) / sizeof(l->fenced[0]); i++)
		if (l->fenced[i] == id)
			l->fenced[i] = 0;
	if (rc < 0)
		ledger_mark_failed(l);
	pthread_mutex_unlock(&l->lock);
	return rc < 0 ? -1 : taken;
}

int ledger_node_leads(struct ledger *l)
{
	long long before = 0;
	int rc;

	pthread_mutex_lock(&l->lock);
	if (l->node[0] == '\0') {
		pthread_mutex_unlock(&l->lock);
		return 1;
	}
	rc = one_int(l,
		     "SELECT count(*) FROM nodes n WHERE n.name < ? AND n.renewed + n.lease >= " NOW,
		     &before, "s", l->node);
	pthread_mutex_unlock(&l->lock);
	return rc == 1 && before == 0;
}

char *ledger_free_here_sql(struct ledger *l)
{
	char *me, *sql;

	if (l->node[0] == '\0')
		return xstrdup("1=1");
	me = db_quote(l->node);
	/* ALIVE's SQL holds a '%s' of its own: an argument, not the format */
	sql = xasprintf("NOT (files.owner NOT IN ('', %s) AND %s) AND NOT EXISTS (SELECT 1 FROM "
			"lanes x WHERE x.partner = files.partner AND x.lane = files.lane AND "
			"x.owner NOT IN ('', %s) AND %s)",
			me, ALIVE("files"), me, ALIVE("x"));
	free(me);
	return sql;
}

int ledger_lane_release(struct ledger *l, const char *partner, const char *lane)
{
	if (l->node[0] == '\0')
		return 0;
	return ledger_run(l,
			  "UPDATE lanes SET owner = '', epoch = 0 WHERE partner = ? AND lane = ? "
			  "AND owner = ? AND epoch = ?",
			  "sssi", partner, lane, l->node, l->epoch);
}

int ledger_fence_step(struct ledger *l, long long id)
{
	int rc;

	if (l->node[0] == '\0')
		return 1;
	rc = one_int(l, "UPDATE files SET epoch = epoch WHERE id = ? AND owner = ? AND epoch = ? "
			"RETURNING id",
		     NULL, "isi", id, l->node, l->epoch);
	if (rc == 0)
		ledger_fence_lost(l, id);
	return rc;
}

int ledger_fenced_begin(struct ledger *l, long long id)
{
	int held;

	pthread_mutex_lock(&l->lock);
	if (db_begin(l->db) < 0 || (held = ledger_fence_step(l, id)) < 0)
		return -1;
	return held ? 0 : 1;
}

void ledger_fence_lost(struct ledger *l, long long id)
{
	l->fenced[l->nfenced++ % (sizeof(l->fenced) / sizeof(l->fenced[0]))] = id;
	log_simple(LOG_WARN, "lease_lost_file",
		   "file_id %lld: another node holds it now; this node stops working on it", id);
}

int ledger_fenced(struct ledger *l, long long id)
{
	int found = 0;

	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < sizeof(l->fenced) / sizeof(l->fenced[0]) && !found; i++)
		found = l->nfenced > i && l->fenced[i] == id;
	pthread_mutex_unlock(&l->lock);
	return found;
}

int ledger_nodes(struct ledger *l, void (*fn)(void *ctx, const struct ledger_node *n), void *ctx)
{
	struct ledger_node *v = NULL;
	struct db_stmt *st;
	size_t n = 0;
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "SELECT name, host, pid, started, renewed, epoch, lease, "
		 "CAST(strftime('%%s','now') AS BIGINT) - renewed, (SELECT count(*) FROM files f WHERE "
		 "f.owner = n.name AND f.epoch = n.epoch AND f.state IN (%s)), (SELECT count(*) "
		 "FROM lanes x WHERE x.owner = n.name AND x.epoch = n.epoch) FROM nodes n "
		 "ORDER BY name",
		 state_sql_list(STATE_IN_FLIGHT));
	pthread_mutex_lock(&l->lock);
	if ((st = db_prepare(l->db, sql)) != NULL) {
		while (db_step(st) == DB_ROW) {
			struct ledger_node *x;
			v = xreallocarray(v, n + 1, sizeof(*v));
			x = &v[n++];
			memset(x, 0, sizeof(*x));
			ledger_copy_text(x->name, sizeof(x->name), db_column_text(st, 0));
			ledger_copy_text(x->host, sizeof(x->host), db_column_text(st, 1));
			x->pid = db_column_int64(st, 2);
			x->started = db_column_int64(st, 3);
			x->renewed = db_column_int64(st, 4);
			x->epoch = db_column_int64(st, 5);
			x->lease = db_column_int64(st, 6);
			x->age = db_column_int64(st, 7);
			x->alive = x->age <= x->lease;
			x->held = db_column_int64(st, 8);
			x->lanes = db_column_int64(st, 9);
		}
		db_finalize(st);
	}
	pthread_mutex_unlock(&l->lock);
	for (size_t i = 0; i < n; i++)
		fn(ctx, &v[i]);
	free(v);
	return st ? 0 : -1;
}

/* lock_key: name as a positive 63-bit number (FNV-1a): the key every node computes alike */
static long long lock_key(const char *name)
{
	unsigned long long h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (long long)(h >> 1);
}

int ledger_lock_try(struct ledger *l, const char *name)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = db_lock_try(l->db, lock_key(name));
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void ledger_lock_release(struct ledger *l, const char *name)
{
	pthread_mutex_lock(&l->lock);
	db_lock_release(l->db, lock_key(name));
	pthread_mutex_unlock(&l->lock);
}
