/*
 * nodes - the appliances sharing one ledger (two on one spool: README "Two
 * appliances, one spool"). On SQLite the one appliance is the only node and
 * every claim is trivially granted; the same code runs there.
 *
 * A node registers at start (a new epoch) and renews its lease every lease/3;
 * the database's clock decides, so the nodes' clocks may differ. A node holds
 * the files it claimed or took (files.owner, files.epoch) and the lane it works
 * (lanes): while its lease lives nobody else takes them; once it expired, any
 * node may, and the old holder's epoch no longer matches: every write a node
 * makes to a file it holds carries its name and epoch (ledger.c, requests.c,
 * operations.c), so a write after the lease was lost changes nothing, and the
 * job that made it stops (ledger_fenced).
 */
#ifndef DG_NODES_H
#define DG_NODES_H

#include <stddef.h>

struct ledger;

/* ledger_node_register: this process is node name (host, pid) with a lease of lease
   seconds: a new epoch, so whatever an earlier run of the node held is free. 0 or -1. */
int ledger_node_register(struct ledger *l, const char *name, const char *host, long pid,
			 long lease);
/* ledger_node_renew: the lease renewed; 1 when it had expired already (another node may
   have taken what it held): the node registered again with a new epoch (its old writes
   fenced). 0 renewed, -1 the ledger failed. */
int ledger_node_renew(struct ledger *l);
/* ledger_node_leave: a clean stop: the lease ends now, so another node takes what this one
   parked at once rather than after the lease. */
void ledger_node_leave(struct ledger *l);
/* ledger_node_name: this process's node ("" for a command) */
const char *ledger_node_name(struct ledger *l);

/*
 * ledger_take: file id, first in flight of partner+lane, taken for this node with
 * its lane (SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL): 1 taken (or this node's
 * already), 0 another live node holds the file or the lane, or is taking it now;
 * -1 error. ledger_lane_release: the lane free for any node again.
 */
int ledger_take(struct ledger *l, long long id, const char *partner, const char *lane);
int ledger_lane_release(struct ledger *l, const char *partner, const char *lane);

/* ledger_node_leads: this node is the first by name of the nodes whose lease lives (the
   one that tells late feeds and alerts); always without a node (SQLite: the only one). */
int ledger_node_leads(struct ledger *l);

/* ledger_free_here_sql: an SQL condition on files (to free): neither the file nor its
   lane is held by another node whose lease lives ("1=1" without a node). */
char *ledger_free_here_sql(struct ledger *l);

/* ledger_fenced: a write for file id found it held by another node since */
int ledger_fenced(struct ledger *l, long long id);

/* ledger_lock_try: a lock named name held by this node among all nodes (an export's
   run: db.h's advisory locks), 1 held, 0 another node holds it, -1 error.
   ledger_lock_release: let go. */
int ledger_lock_try(struct ledger *l, const char *name);
void ledger_lock_release(struct ledger *l, const char *name);

/* what status shows of each node */
struct ledger_node {
	char name[256], host[256];
	long long pid, started, renewed, epoch, lease;
	long long age;	 /* seconds since its last renewal, by the database's clock */
	int alive;	 /* its lease lives */
	long long held;	 /* files in flight it holds */
	long long lanes; /* lanes it works now */
};
/* ledger_nodes: every node ever registered, by name, to fn. 0 or -1. */
int ledger_nodes(struct ledger *l, void (*fn)(void *ctx, const struct ledger_node *n),
		 void *ctx);

#endif
