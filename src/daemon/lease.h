/*
 * lease - this daemon as a node of the ledger (queue/nodes.h): registered at
 * start under `node =` (default the host name), its lease renewed every
 * lease/3 seconds by a thread of its own, so a busy main loop or worker never
 * lets it lapse. A renewal that finds the lease expired gives the node a new
 * epoch: whatever it held is free, and its jobs' next writes stop them. While
 * the ledger's server is away (ledger_lost) it renews nothing.
 */
#ifndef DG_LEASE_H
#define DG_LEASE_H

#include <pthread.h>

struct conf;
struct ledger;

struct lease {
	struct ledger *ledger;
	unsigned long seconds;
	int (*stop)(void);
	pthread_t thread;
	int started;
};

/* lease_start: registered and the renewing thread started; 0, or -1 (told on stderr). */
int lease_start(struct lease *ls, struct ledger *l, const struct conf *c, int (*stop)(void));
/* lease_join: the thread ended (stop() says so within a second). */
void lease_join(struct lease *ls);

#endif
