/*
 * claim_bench LOCATION N: a node's claim of N files as the daemon makes it:
 * the ledger rows with the file's identity (ledger_add_claim), then the file
 * and its lane taken for a worker (ledger_take), timed together; then the
 * file's end state and the lane let go (untimed). Prints p50, p99 and the
 * mean in microseconds on one line: "BACKEND p50 P99 MEAN". LOCATION is an
 * SQLite path or a PostgreSQL conninfo (bench/nodes_bench.py runs both).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "queue/db.h"
#include "queue/ledger.h"
#include "queue/nodes.h"
#include "util/buf.h"
#include "util/xalloc.h"

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct buf err = BUF_INIT(4096);
	struct ledger *l;
	const char *feeds[] = {"stock"};
	long n = argc > 2 ? atol(argv[2]) : 1000;
	double *t, sum = 0;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: claim_bench LOCATION N\n");
		return 2;
	}
	if ((l = ledger_open(argv[1], &err)) == NULL ||
	    ledger_node_register(l, "bench", "bench", 1, 30) < 0) {
		fprintf(stderr, "claim_bench: %s\n", buf_cstr(&err));
		return 1;
	}
	t = xcalloc((size_t)n, sizeof(*t));
	for (long i = 0; i < n; i++) {
		char name[64], ident[128], partner[32];
		long long id;
		double t0;

		snprintf(name, sizeof(name), "f%06ld.csv", i);
		snprintf(ident, sizeof(ident), "1:%ld.0:%ld:%ld.0", i, i, i);
		snprintf(partner, sizeof(partner), "p%02ld", i % 20);
		t0 = now_us();
		if (ledger_add_claim(l, partner, feeds, 1, name, "/spool/x", 1, ident, ST_RECEIVED,
				     "/spool/x", NULL, &id) != 0 ||
		    ledger_take(l, id, partner, "stock") != 1) {
			fprintf(stderr, "claim_bench: claim %ld failed\n", i);
			return 1;
		}
		t[i] = now_us() - t0;
		sum += t[i];
		ledger_set_state(l, id, ST_DONE, "");
		ledger_lane_release(l, partner, "stock");
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%s %.0f %.0f %.0f\n", ledger_is_file(argv[1]) ? "sqlite" : "postgresql",
	       t[n / 2], t[(size_t)((double)n * 0.99)], sum / (double)n);
	free(t);
	ledger_close(l);
	buf_release(&err);
	return 0;
}
