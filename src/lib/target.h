/*
 * target - a Commerce instance to send batches to: one [commerce] or
 * [commerce NAME] section, as conf read it (each key of conf_keys.c's [commerce]
 * table, its default when not given).
 *
 * A plain struct: the configuration owns it and its strings; conf_free
 * releases them. Nothing here is checked against the network.
 */
#ifndef DG_TARGET_H
#define DG_TARGET_H

enum target_api { API_CSV, API_JSON };

struct target {
	char *name; /* "default" for [commerce] */
	char *url;
	char *store;
	char *token_file;
	char *username;
	char *password_file;
	enum target_api api;
	unsigned long batch_rows;
	unsigned long long batch_bytes;
	unsigned long timeout; /* seconds */
	unsigned long retries;
	unsigned long backoff_ms;     /* first retry after this, doubling ... */
	unsigned long backoff_max_ms; /* ... up to this */
	int verify_tls;
	char *ca_file; /* NULL: the system's CAs */
	/* operation feeds (src/orders/) */
	int bulk;		   /* yes: the asynchronous bulk API; no: synchronous calls */
	unsigned long bulk_wait;   /* seconds a bulk's operations may stay open */
	unsigned long concurrency; /* synchronous calls at a time */
	int line;      /* of its [section] header */
};

#endif
