#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ops/counters.h"
#include "ops/prom.h"

#define COUNTERS_MAX 64
#define LABEL_MAX 128

/* seconds a Commerce request takes: an import answers in a second or two, a big one in minutes */
static const double bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* one series of any family: its labels and whichever figures that family keeps */
struct series {
	char key[LABEL_MAX];  /* target or export name */
	char key2[16];	      /* outcome, for requests */
	unsigned long long n; /* requests, retries; export runs that succeeded */
	unsigned long long failed, rows;
	unsigned long long buckets[NBOUNDS], count;
	double sum;
	time_t last_success;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series requests[COUNTERS_MAX], latency[COUNTERS_MAX], retries[COUNTERS_MAX],
    exports[COUNTERS_MAX];
static size_t nrequests, nlatency, nretries, nexports;

/* find: the series (key, key2) of a table holding *n, made when new; past the cap, one
   series "other" (the table's last) takes the rest */
static struct series *find(struct series *t, size_t *n, const char *key, const char *key2)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(t[i].key, key) == 0 && strcmp(t[i].key2, key2) == 0)
			return &t[i];
	if (*n == COUNTERS_MAX)
		return &t[COUNTERS_MAX - 1];
	snprintf(t[i].key, sizeof(t[i].key), "%s", *n == COUNTERS_MAX - 1 ? "other" : key);
	snprintf(t[i].key2, sizeof(t[i].key2), "%s", key2);
	(*n)++;
	return &t[i];
}

void counters_request(const char *target, const char *outcome, double seconds)
{
	struct series *h;

	pthread_mutex_lock(&lock);
	find(requests, &nrequests, target, outcome)->n++;
	h = find(latency, &nlatency, target, "");
	for (size_t b = 0; b < NBOUNDS; b++)
		if (seconds <= bounds[b])
			h->buckets[b]++;
	h->count++;
	h->sum += seconds;
	pthread_mutex_unlock(&lock);
}

void counters_retry(const char *target)
{
	pthread_mutex_lock(&lock);
	find(retries, &nretries, target, "")->n++;
	pthread_mutex_unlock(&lock);
}

void counters_export(const char *name, int ok, unsigned long rows, time_t when)
{
	struct series *e;

	pthread_mutex_lock(&lock);
	e = find(exports, &nexports, name, "");
	if (ok) {
		e->n++;
		e->rows += rows;
		e->last_success = when;
	} else {
		e->failed++;
	}
	pthread_mutex_unlock(&lock);
}

void counters_render(struct buf *out)
{
	pthread_mutex_lock(&lock);
	prom_family(out, "dropgate_commerce_requests_total", "counter",
		    "HTTP requests to Commerce by target and outcome (answer class)");
	for (size_t i = 0; i < nrequests; i++)
		prom_sample(out, "dropgate_commerce_requests_total", (double)requests[i].n, 2,
			    "target", requests[i].key, "outcome", requests[i].key2);
	prom_family(out, "dropgate_commerce_request_duration_seconds", "histogram",
		    "seconds a Commerce request took, answer included");
	for (size_t i = 0; i < nlatency; i++) {
		char le[32];
		for (size_t b = 0; b < NBOUNDS; b++) {
			snprintf(le, sizeof(le), "%g", bounds[b]);
			prom_sample(out, "dropgate_commerce_request_duration_seconds_bucket",
				    (double)latency[i].buckets[b], 2, "target", latency[i].key,
				    "le", le);
		}
		prom_sample(out, "dropgate_commerce_request_duration_seconds_bucket",
			    (double)latency[i].count, 2, "target", latency[i].key, "le", "+Inf");
		prom_sample(out, "dropgate_commerce_request_duration_seconds_sum", latency[i].sum,
			    1, "target", latency[i].key);
		prom_sample(out, "dropgate_commerce_request_duration_seconds_count",
			    (double)latency[i].count, 1, "target", latency[i].key);
	}
	prom_family(out, "dropgate_commerce_retries_total", "counter",
		    "Commerce requests tried again after a transient failure");
	for (size_t i = 0; i < nretries; i++)
		prom_sample(out, "dropgate_commerce_retries_total", (double)retries[i].n, 1,
			    "target", retries[i].key);
	prom_family(out, "dropgate_export_runs_total", "counter", "export runs by outcome");
	for (size_t i = 0; i < nexports; i++) {
		prom_sample(out, "dropgate_export_runs_total", (double)exports[i].n, 2, "export",
			    exports[i].key, "outcome", "ok");
		prom_sample(out, "dropgate_export_runs_total", (double)exports[i].failed, 2,
			    "export", exports[i].key, "outcome", "failed");
	}
	prom_family(out, "dropgate_export_rows_total", "counter",
		    "rows (orders, or BI rows) written by successful export runs");
	for (size_t i = 0; i < nexports; i++)
		prom_sample(out, "dropgate_export_rows_total", (double)exports[i].rows, 1, "export",
			    exports[i].key);
	prom_family(out, "dropgate_export_last_success_timestamp_seconds", "gauge",
		    "when the export last ran successfully (0: not since the daemon started)");
	for (size_t i = 0; i < nexports; i++)
		prom_sample(out, "dropgate_export_last_success_timestamp_seconds",
			    (double)exports[i].last_success, 1, "export", exports[i].key);
	pthread_mutex_unlock(&lock);
}
