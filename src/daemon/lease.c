/*
 * lease - registering this daemon as a node and renewing its lease (lease.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/lease.h"
#include "lib/conf.h"
#include "queue/ledger.h"
#include "queue/nodes.h"

static void *renew_main(void *arg)
{
	struct lease *ls = arg;
	unsigned long every_ms = ls->seconds * 1000 / 3;
	unsigned long waited = 0;

	if (every_ms < 200)
		every_ms = 200;
	while (!ls->stop()) {
		struct timespec step = {0, 100 * 1000000L};
		nanosleep(&step, NULL);
		waited += 100;
		if (waited < every_ms)
			continue;
		waited = 0;
		if (!ledger_failed(ls->ledger))
			ledger_node_renew(ls->ledger);
	}
	return NULL;
}

int lease_start(struct lease *ls, struct ledger *l, const struct conf *c, int (*stop)(void))
{
	char host[256] = "";
	const char *name;

	memset(ls, 0, sizeof(*ls));
	ls->ledger = l;
	ls->seconds = c->lease ? c->lease : 1;
	ls->stop = stop;
	gethostname(host, sizeof(host) - 1);
	name = c->node && *c->node ? c->node : host;
	if (ledger_node_register(l, name, host, (long)getpid(), (long)ls->seconds) < 0) {
		fprintf(stderr, "dropgate run: cannot register node '%s' in the ledger\n", name);
		return -1;
	}
	ls->started = pthread_create(&ls->thread, NULL, renew_main, ls) == 0;
	return 0;
}

void lease_join(struct lease *ls)
{
	if (ls->started)
		pthread_join(ls->thread, NULL);
	ls->started = 0;
}
