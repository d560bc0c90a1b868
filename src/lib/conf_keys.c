/*
 * conf_keys - the keys of each section, a row each: its parser, its field,
 * its default and what conf_free releases. Adding a key is adding a row (and
 * a field to its struct); a new kind of value is a kp_ parser beside the others.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf_loader.h"
#include "lib/decode.h"
#include "lib/entity.h"
#include "lib/operation.h"
#include "queue/db.h"
#include "util/log.h"
#include "util/xalloc.h"

struct choice {
	const char *name;
	int value;
};

struct range {
	unsigned long min, max;
};

static int kp_string(struct loader *ld, const char *v, void *field, const void *arg)
{
	char **p = field;

	(void)arg;
	if (*v == '\0') {
		conf_error(ld, ld->line, "the value is empty");
		return -1;
	}
	free(*p);
	*p = xstrdup(v);
	return 0;
}

/* kp_optional_path: a path from the configuration's directory; empty: none (NULL). */
static int kp_optional_path(struct loader *ld, const char *v, void *field, const void *arg)
{
	char **p = field;

	(void)arg;
	free(*p);
	if (*v == '\0')
		*p = NULL;
	else
		*p = (*v == '/' || ld->basedir == NULL) ? xstrdup(v)
							: xasprintf("%s/%s", ld->basedir, v);
	return 0;
}

/*
 * kp_ledger: where the ledger is: a PostgreSQL URI or key=value conninfo, kept
 * as written, or an SQLite file's path; empty: <state>/ledger.db. A location
 * that carries a password is refused: the password belongs in a passfile.
 */
static int kp_ledger(struct loader *ld, const char *v, void *field, const void *arg)
{
	char **p = field;

	if (!db_location_is_pg(v))
		return kp_optional_path(ld, v, field, arg);
	if (db_location_has_password(v)) {
		conf_error(ld, ld->line,
			   "the ledger's location carries a password: keep it out of the "
			   "configuration, in PGPASSFILE or a passfile= the location names");
		return -1;
	}
	free(*p);
	*p = xstrdup(v);
	return 0;
}

static int kp_path(struct loader *ld, const char *v, void *field, const void *arg)
{
	if (*v == '\0') {
		conf_error(ld, ld->line, "the value is empty");
		return -1;
	}
	return kp_optional_path(ld, v, field, arg);
}

static int kp_uint(struct loader *ld, const char *v, void *field, const void *arg)
{
	const struct range *r = arg;
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n < r->min || n > r->max) {
		conf_error(ld, ld->line, "'%s' is not a whole number from %lu to %lu", v, r->min,
			   r->max);
		return -1;
	}
	*(unsigned long *)field = n;
	return 0;
}

static int kp_size(struct loader *ld, const char *v, void *field, const void *arg)
{
	unsigned long long n;

	(void)arg;
	if (parse_size(v, &n) < 0 || n < 1024) {
		conf_error(ld, ld->line, "'%s' is not a size of at least 1K (e.g. 512K, 4M, 1G)",
			   v);
		return -1;
	}
	*(unsigned long long *)field = n;
	return 0;
}

static int kp_duration(struct loader *ld, const char *v, void *field, const void *arg)
{
	unsigned long n;

	(void)arg;
	if (parse_duration(v, &n) < 0 || n == 0) {
		conf_error(ld, ld->line, "'%s' is not a duration (e.g. 90s, 2m, 1h)", v);
		return -1;
	}
	*(unsigned long *)field = n;
	return 0;
}

static int kp_duration_ms(struct loader *ld, const char *v, void *field, const void *arg)
{
	unsigned long n;

	(void)arg;
	if (parse_duration_ms(v, &n) < 0 || n == 0) {
		conf_error(ld, ld->line, "'%s' is not a duration (e.g. 500ms, 1s, 5m)", v);
		return -1;
	}
	*(unsigned long *)field = n;
	return 0;
}

static int kp_bool(struct loader *ld, const char *v, void *field, const void *arg)
{
	(void)arg;
	if (parse_bool(v, field) < 0) {
		conf_error(ld, ld->line, "'%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

static int kp_choice(struct loader *ld, const char *v, void *field, const void *arg)
{
	struct buf names = BUF_INIT(4096);

	for (const struct choice *c = arg; c->name; c++)
		if (strcmp(v, c->name) == 0) {
			*(int *)field = c->value;
			return 0;
		}
	for (const struct choice *c = arg; c->name; c++)
		buf_printf(&names, "%s%s", c == arg ? "" : ", ", c->name);
	conf_error(ld, ld->line, "'%s' is not one of: %s", v, buf_cstr(&names));
	buf_release(&names);
	return -1;
}

static int kp_list(struct loader *ld, const char *v, void *field, const void *arg)
{
	struct strlist *l = field, words = STRLIST_INIT;

	(void)arg;
	strlist_split(&words, v);
	if (words.n == 0) {
		conf_error(ld, ld->line, "the list is empty");
		return -1;
	}
	strlist_clear(l);
	*l = words;
	return 0;
}

static int kp_char(struct loader *ld, const char *v, void *field, const void *arg)
{
	(void)arg;
	if (*v == '\0') {
		conf_error(ld, ld->line,
			   "the value is empty; a bare ; starts a comment, so write "
			   "\";\" or semicolon");
		return -1;
	}
	if (parse_char(v, field) < 0) {
		conf_error(ld, ld->line,
			   "'%s' is not one character in double quotes (\";\", \"\\t\") or one "
			   "of comma, semicolon, tab, pipe",
			   v);
		return -1;
	}
	return 0;
}

static int kp_encoding(struct loader *ld, const char *v, void *field, const void *arg)
{
	(void)arg;
	if (decode_encoding_known(v) < 0) {
		conf_error(ld, ld->line, "unknown encoding '%s' (known: %s)", v,
			   decode_encoding_names());
		return -1;
	}
	return kp_string(ld, v, field, arg);
}

static int kp_complete(struct loader *ld, const char *v, void *field, const void *arg)
{
	struct feed *f = (struct feed *)((char *)field - offsetof(struct feed, complete));
	unsigned long quiet;

	(void)arg;
	if (strcmp(v, "close") == 0) {
		f->complete = COMPLETE_CLOSE;
	} else if (strcmp(v, "ok-file") == 0) {
		f->complete = COMPLETE_OKFILE;
	} else if (strncmp(v, "quiet:", 6) == 0 && parse_duration(v + 6, &quiet) == 0 &&
		   quiet > 0) {
		f->complete = COMPLETE_QUIET;
		f->quiet_seconds = quiet;
	} else {
		conf_error(ld, ld->line, "'%s' is not close, ok-file or quiet:SECONDS", v);
		return -1;
	}
	return 0;
}

static int kp_at(struct loader *ld, const char *v, void *field, const void *arg)
{
	int h, m;
	char end;

	(void)arg;
	if (sscanf(v, "%d:%d%c", &h, &m, &end) != 2 || h < 0 || h > 23 || m < 0 || m > 59) {
		conf_error(ld, ld->line, "'%s' is not a local time like 02:00", v);
		return -1;
	}
	*(int *)field = h * 60 + m;
	return 0;
}

static int kp_entity(struct loader *ld, const char *v, void *field, const void *arg)
{
	const struct entity *e = entity_find(v);
	const struct feed *f = (const struct feed *)((char *)field - offsetof(struct feed, entity));

	(void)arg;
	if (f->operation) {
		conf_error(ld, ld->line, "a feed takes entity or operation, not both");
		return -1;
	}
	if (e == NULL) {
		conf_error(ld, ld->line, "unknown entity '%s' (known: %s)", v, entity_names());
		return -1;
	}
	*(const struct entity **)field = e;
	return 0;
}

/* kp_stamp: name:FORMAT (strptime fields in the file's name) or mtime */
static int kp_stamp(struct loader *ld, const char *v, void *field, const void *arg)
{
	struct feed *f = (struct feed *)((char *)field - offsetof(struct feed, stamp));

	(void)arg;
	if (strcmp(v, "mtime") == 0) {
		f->stamp.kind = STAMP_MTIME;
	} else if (strncmp(v, "name:", 5) == 0 && strchr(v + 5, '%') != NULL) {
		f->stamp.kind = STAMP_NAME;
		free(f->stamp.format);
		f->stamp.format = xstrdup(v + 5);
	} else {
		conf_error(ld, ld->line,
			   "'%s' is not name:FORMAT (strptime fields, e.g. name:%%Y%%m%%dT%%H%%M) "
			   "or mtime",
			   v);
		return -1;
	}
	free(f->stamp.spec);
	f->stamp.spec = xstrdup(v);
	return 0;
}

/* kp_share: a share like 5% or 2.5% (of the keys known), into a fraction */
static int kp_share(struct loader *ld, const char *v, void *field, const void *arg)
{
	char *end;
	double d;

	(void)arg;
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || strcmp(end, "%") != 0 || d < 0 || d > 100) {
		conf_error(ld, ld->line, "'%s' is not a share from 0%% to 100%% (e.g. 5%%)", v);
		return -1;
	}
	*(double *)field = d / 100;
	return 0;
}

/* kp_log: a level (debug, info, warn, error), syslog, or both ("info syslog"). */
static int kp_log(struct loader *ld, const char *v, void *field, const void *arg)
{
	struct conf *c = (struct conf *)((char *)field - offsetof(struct conf, log_level));
	struct strlist words = STRLIST_INIT;
	int rc = 0, level = LOG_INFO, syslog = 0;

	(void)arg;
	strlist_split(&words, v);
	for (size_t i = 0; i < words.n && rc == 0; i++) {
		int l = log_level_parse(words.v[i]);
		if (l >= 0)
			level = l;
		else if (strcmp(words.v[i], "syslog") == 0 || strcmp(words.v[i], "stderr") == 0)
			syslog = words.v[i][1] == 'y';
		else
			rc = -1;
	}
	if (rc < 0 || words.n == 0 || words.n > 2) {
		conf_error(ld, ld->line,
			   "'%s' is not a level (debug, info, warn, error), stderr or syslog, or a "
			   "level and one of those",
			   v);
		rc = -1;
	} else {
		c->log_level = level;
		c->log_syslog = syslog;
	}
	strlist_clear(&words);
	return rc;
}

/* kp_listen: ADDR:PORT (an IPv4 address, or [IPv6]), for metrics. */
static int kp_listen(struct loader *ld, const char *v, void *field, const void *arg)
{
	const char *colon = strrchr(v, ':');
	char *end;
	unsigned long port;

	if (colon == NULL || colon == v || colon[1] == '\0' ||
	    (port = strtoul(colon + 1, &end, 10), *end != '\0') || port == 0 || port > 65535) {
		conf_error(ld, ld->line, "'%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9464)", v);
		return -1;
	}
	return kp_string(ld, v, field, arg);
}

/* kp_expect: daily HH:MM, or every DURATION. */
static int kp_expect(struct loader *ld, const char *v, void *field, const void *arg)
{
	struct feed *f = (struct feed *)((char *)field - offsetof(struct feed, expect));
	unsigned long every;

	(void)arg;
	if (strncmp(v, "daily ", 6) == 0 && kp_at(ld, v + 6, &f->expect_at, NULL) == 0) {
		f->expect = EXPECT_DAILY;
		return 0;
	}
	if (strncmp(v, "daily ", 6) == 0)
		return -1; /* kp_at told */
	if (strncmp(v, "every ", 6) == 0 && parse_duration(v + 6, &every) == 0 && every > 0) {
		f->expect = EXPECT_EVERY;
		f->expect_every = every;
		return 0;
	}
	conf_error(ld, ld->line, "'%s' is not 'daily HH:MM' or 'every DURATION' (e.g. every 30m)",
		   v);
	return -1;
}

/* kp_operation: operation = ship|...: the operation, and its rows' columns as the entity */
static int kp_operation(struct loader *ld, const char *v, void *field, const void *arg)
{
	const struct operation *o = operation_find(v);
	struct feed *f = (struct feed *)((char *)field - offsetof(struct feed, operation));

	(void)arg;
	if (o == NULL) {
		conf_error(ld, ld->line, "unknown operation '%s' (known: %s)", v,
			   operation_names());
		return -1;
	}
	if (f->entity && f->operation == NULL) {
		conf_error(ld, ld->line, "a feed takes entity or operation, not both");
		return -1;
	}
	f->operation = o;
	f->entity = o->entity;
	return 0;
}

static const struct range r_workers = {1, 64};
static const struct range r_days = {1, 36500};
static const struct range r_rows = {1, 1000000};
static const struct range r_retries = {0, 100};
static const struct range r_errors = {0, ULONG_MAX / 2};
static const struct range r_members = {1, 100000};
static const struct range r_ratio = {2, 100000};

static const struct choice c_api[] = {{"csv", API_CSV}, {"json", API_JSON}, {NULL, 0}};
static const struct choice c_format[] = {{"csv", FORMAT_CSV}, {"xml", FORMAT_XML}, {NULL, 0}};
static const struct choice c_order[] = {{"name", ORDER_NAME}, {"mtime", ORDER_MTIME}, {NULL, 0}};
static const struct choice c_mode[] = {{"delta", MODE_DELTA}, {"full", MODE_FULL}, {NULL, 0}};
static const struct choice c_validation[] = {
    {"stop-on-errors", VALIDATION_STOP}, {"skip-errors", VALIDATION_SKIP}, {NULL, 0}};

static const struct choice c_export_kind[] = {
    {"orders", EXPORT_ORDERS}, {"bi", EXPORT_BI}, {"stock", EXPORT_STOCK}, {NULL, 0}};
static const struct choice c_export_format[] = {
    {"csv", EXPORT_CSV}, {"xml", EXPORT_XML}, {"jsonl", EXPORT_JSONL}, {NULL, 0}};
static const struct choice c_compress[] = {{"none", 0}, {"gzip", 1}, {NULL, 0}};
static const struct range r_page = {1, 1000};
static const struct range r_concurrency = {1, 64};
static const struct choice c_group_by[] = {{"order", 1}, {"row", 0}, {NULL, 0}};

static const char *first_behavior(const void *feed)
{
	const struct feed *f = feed;

	return f->entity ? f->entity->behaviors[0] : NULL;
}

static const char *dir_by_kind(const void *export)
{
	const struct export *e = export;

	return e->kind == EXPORT_ORDERS	 ? "outbound/orders"
	       : e->kind == EXPORT_STOCK ? "outbound/stock"
					 : "outbound/bi";
}

static const char *entities_by_kind(const void *export)
{
	const struct export *e = export;

	return e->kind == EXPORT_BI ? "orders order_items customers products" : NULL;
}

/*
 * The tables: a row is name, parser, field, the parser's argument, the default
 * as it would be written in the file (NONE: zero, NULL or empty), and what
 * conf_free releases. In a *KD row the default is a function of the keys read
 * before the section's end (key_derive_fn).
 */
/* clang-format off */
#define ROW(type, name, fn, field, arg, def, owns) \
	{ name, fn, offsetof(struct type, field), arg, def, NULL, owns }
#define DERIVED(type, name, fn, field, arg, derive, owns) \
	{ name, fn, offsetof(struct type, field), arg, NULL, derive, owns }
#define CK(...) ROW(conf, __VA_ARGS__)
#define TK(...) ROW(target, __VA_ARGS__)
#define FK(...) ROW(feed, __VA_ARGS__)
#define FKD(...) DERIVED(feed, __VA_ARGS__)
#define EK(...) ROW(export, __VA_ARGS__)
#define EKD(...) DERIVED(export, __VA_ARGS__)
#define NONE NULL
#define END_OF_KEYS { NULL, NULL, 0, NULL, NULL, NULL, OWN_NONE }

const struct key_def conf_dropgate_keys[] = {
	CK("spool", kp_path, spool, NULL, "/srv/dropgate/spool", OWN_STRING),
	CK("state", kp_path, state, NULL, "/var/lib/dropgate", OWN_STRING),
	CK("ledger",             kp_ledger,   ledger,             NULL,       NONE,    OWN_STRING),
	CK("node",               kp_string,   node,               NULL,       NONE,    OWN_STRING),
	CK("lease",              kp_duration, lease,              NULL,       "30",    OWN_NONE),
	CK("workers",            kp_uint,     workers,            &r_workers, "2",     OWN_NONE),
	CK("log",                kp_log,      log_level,          NULL,       "info",  OWN_NONE),
	CK("keep_days",          kp_uint,     keep_days,          &r_days,    "30",    OWN_NONE),
	CK("rescan",             kp_duration, rescan,             NULL,       "60",    OWN_NONE),
	CK("settle",             kp_duration, settle,             NULL,       "30",    OWN_NONE),
	CK("retry_deferred",     kp_duration, retry_deferred,     NULL,       "1m",    OWN_NONE),
	CK("retry_deferred_max", kp_duration, retry_deferred_max, NULL,       "1h",    OWN_NONE),
	CK("min_free",           kp_size,     min_free,           NULL,       "64M",   OWN_NONE),
	CK("worker_memory",      kp_size,     worker_memory,      NULL,       "1G",    OWN_NONE),
	CK("worker_cpu",         kp_duration, worker_cpu,         NULL,       "600",   OWN_NONE),
	CK("max_file_size",      kp_size,     max_file_size,      NULL,       "4G",    OWN_NONE),
	/* operating it (src/ops/): metrics, alerts */
	CK("metrics",            kp_listen,   metrics,            NULL,       NONE,    OWN_STRING),
	CK("alert",              kp_optional_path, alert,         NULL,       NONE,    OWN_STRING),
	CK("alert_deferred",     kp_duration, alert_deferred,     NULL,       "1h",    OWN_NONE),
	END_OF_KEYS,
};

/* section_finish_target requires url, and token_file or username and password_file */
const struct key_def conf_commerce_keys[] = {
	TK("url",           kp_string,        url,            NULL,       NONE,      OWN_STRING),
	TK("store",         kp_string,        store,          NULL,       "default", OWN_STRING),
	TK("token_file",    kp_path,          token_file,     NULL,       NONE,      OWN_STRING),
	TK("username",      kp_string,        username,       NULL,       NONE,      OWN_STRING),
	TK("password_file", kp_path,          password_file,  NULL,       NONE,      OWN_STRING),
	TK("api",           kp_choice,        api,            c_api,      "csv",     OWN_NONE),
	TK("batch_rows",    kp_uint,          batch_rows,     &r_rows,    "5000",    OWN_NONE),
	TK("batch_bytes",   kp_size,          batch_bytes,    NULL,       "4M",      OWN_NONE),
	TK("timeout",       kp_duration,      timeout,        NULL,       "120",     OWN_NONE),
	TK("retries",       kp_uint,          retries,        &r_retries, "8",       OWN_NONE),
	TK("backoff",       kp_duration_ms,   backoff_ms,     NULL,       "1s",      OWN_NONE),
	TK("backoff_max",   kp_duration_ms,   backoff_max_ms, NULL,       "5m",      OWN_NONE),
	TK("verify_tls",    kp_bool,          verify_tls,     NULL,       "yes",     OWN_NONE),
	TK("ca_file",       kp_optional_path, ca_file,        NULL,       NONE,      OWN_STRING),
	/* operation feeds (src/orders/) */
	TK("bulk",          kp_bool,          bulk,           NULL,       "yes",     OWN_NONE),
	TK("bulk_wait",     kp_duration,      bulk_wait,      NULL,       "30m",     OWN_NONE),
	TK("concurrency",   kp_uint,          concurrency,    &r_concurrency, "4",   OWN_NONE),
	END_OF_KEYS,
};

/* section_finish_feed requires dir and entity */
const struct key_def conf_feed_keys[] = {
	FK("partners",       kp_list,     partners,       NULL,         "*",        OWN_LIST),
	FK("dir",            kp_string,   dir,            NULL,         NONE,       OWN_STRING),
	FK("match",          kp_list,     match,          NULL,         "*",        OWN_LIST),
	FK("members",        kp_list,     members,        NULL,         "*",        OWN_LIST),
	FK("format",         kp_choice,   format,         c_format,     "csv",      OWN_NONE),
	FK("delimiter",      kp_char,     delimiter,      NULL,         ",",        OWN_NONE),
	FK("quote",          kp_char,     quote,          NULL,         "\"\\\"\"", OWN_NONE),
	FK("strict",         kp_bool,     strict,         NULL,         "yes",      OWN_NONE),
	FK("encoding",       kp_encoding, encoding,       NULL,         "utf-8",    OWN_STRING),
	FK("header",         kp_bool,     header,         NULL,         "yes",      OWN_NONE),
	FK("complete",       kp_complete, complete,       NULL,         "close",    OWN_NONE),
	FK("order",          kp_choice,   order,          c_order,      "name",     OWN_NONE),
	FK("mode",           kp_choice,   mode,           c_mode,       "delta",    OWN_NONE),
	FK("entity",         kp_entity,   entity,         NULL,         NONE,       OWN_NONE),
	FKD("behavior",      kp_string,   behavior,       NULL,         first_behavior, OWN_STRING),
	FK("validation",     kp_choice,   validation,     c_validation, "stop-on-errors", OWN_NONE),
	FK("allowed_errors", kp_uint,     allowed_errors, &r_errors,    "0",        OWN_NONE),
	FK("targets",        kp_list,     targets,        NULL,         "default",  OWN_LIST),
	FK("record",         kp_string,   record,         NULL,         NONE,       OWN_STRING),
	FK("schema",         kp_path,     schema,         NULL,         NONE,       OWN_STRING),
	FK("max_members",    kp_uint,     max_members,    &r_members,   "1000",     OWN_NONE),
	FK("max_inflated",   kp_size,     max_inflated,   NULL,         "4G",       OWN_NONE),
	FK("max_ratio",      kp_uint,     max_ratio,      &r_ratio,     "100",      OWN_NONE),
	FK("nested",         kp_bool,     nested,         NULL,         "no",       OWN_NONE),
	/* sequences: the time line and the key store (sift/), absent.COLUMN besides */
	FK("sequence",       kp_string,   sequence,       NULL,         NONE,       OWN_STRING),
	FK("stamp",          kp_stamp,    stamp,          NULL,         NONE,       OWN_NONE),
	FK("diff",           kp_bool,     diff,           NULL,         "no",       OWN_NONE),
	FK("max_absent",     kp_share,    max_absent,     NULL,         "5%",       OWN_NONE),
	/* late-file alerts (src/ops/expect.h) */
	FK("expect",         kp_expect,   expect,         NULL,         NONE,       OWN_NONE),
	FK("expect.partners", kp_list,    expect_partners, NULL,        NONE,       OWN_LIST),
	/* operation feeds (src/orders/) */
	FK("operation",      kp_operation, operation,     NULL,         NONE,       OWN_NONE),
	FK("group_by",       kp_choice,   group_by_order, c_group_by,   "order",    OWN_NONE),
	FK("page_size",      kp_uint,     page_size,      &r_page,      "100",      OWN_NONE),
	END_OF_KEYS,
};

/* section_finish_export requires partners, and every or at */
const struct key_def conf_export_keys[] = {
	EK("kind",       kp_choice,   kind,       c_export_kind,   "orders",         OWN_NONE),
	EK("partners",   kp_list,     partners,   NULL,            NONE,             OWN_LIST),
	EKD("dir",       kp_string,   dir,        NULL,            dir_by_kind,      OWN_STRING),
	EK("every",      kp_duration, every,      NULL,            NONE,             OWN_NONE),
	EK("at",         kp_at,       at_minutes, NULL,            NONE,             OWN_NONE),
	EK("format",     kp_choice,   format,     c_export_format, "csv",            OWN_NONE),
	EK("target",     kp_string,   target,     NULL,            "default",        OWN_STRING),
	EK("page_size",  kp_uint,     page_size,  &r_page,         "200",            OWN_NONE),
	EKD("entities",  kp_list,     entities,   NULL,            entities_by_kind, OWN_LIST),
	EK("compress",   kp_choice,   gzip,       c_compress,      "none",           OWN_NONE),
	EK("sequence",   kp_string,   sequence,   NULL,            NONE,             OWN_STRING),
	END_OF_KEYS,
};
/* clang-format on */

/* set_default: v into k's field of obj, through k's parser; a default that fails is our bug. */
static void set_default(struct loader *ld, const struct key_def *k, void *obj, const char *v)
{
	if (k->parse(ld, v, (char *)obj + k->off, k->arg) < 0) {
		fprintf(stderr, "conf: the default of %s, '%s', does not parse\n", k->name, v);
		abort();
	}
}

void keys_default(struct loader *ld, const struct key_def *keys, void *obj)
{
	for (const struct key_def *k = keys; k->name; k++)
		if (k->def)
			set_default(ld, k, obj, k->def);
}

static int key_unset(const struct key_def *k, const void *obj)
{
	const void *field = (const char *)obj + k->off;

	if (k->owns == OWN_STRING)
		return *(char *const *)field == NULL;
	if (k->owns == OWN_LIST)
		return ((const struct strlist *)field)->n == 0;
	abort(); /* a derived default needs a field that can be unset */
}

void keys_derive(struct loader *ld, const struct key_def *keys, void *obj)
{
	for (const struct key_def *k = keys; k->name; k++) {
		const char *v = k->derive && key_unset(k, obj) ? k->derive(obj) : NULL;
		if (v)
			set_default(ld, k, obj, v);
	}
}

void keys_release(const struct key_def *keys, void *obj)
{
	for (const struct key_def *k = keys; k->name; k++) {
		void *field = (char *)obj + k->off;
		if (k->owns == OWN_STRING)
			free(*(char **)field);
		else if (k->owns == OWN_LIST)
			strlist_clear(field);
	}
}
