#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/decode.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "lib/xmlin.h"
#include "util/filesnap.h"
#include "util/log.h"
#include "util/xalloc.h"

enum section_kind { SEC_NONE, SEC_DROPGATE, SEC_COMMERCE, SEC_FEED, SEC_EXPORT, SEC_UNKNOWN };

struct pending_map {
	char *column, *expr;
	unsigned long line;
};

struct loader {
	const char *path;
	char *basedir;
	FILE *fp;
	unsigned long line;	    /* line the reader handed out last */
	unsigned long section_line; /* line of the last [section] header */
	int line_too_long;
	struct buf *err;
	int nerr;
	struct conf *c;
	/* the section being read */
	enum section_kind kind;
	char *section;
	unsigned long cur_section_line;
	void *obj;
	uint64_t seen;
	struct pending_map *maps;
	size_t nmaps;
	int seen_dropgate;
	const char *cur_key; /* while a key's value is parsed: errors name it */
};

/* A key parser stores v in field, or reports why not and leaves field as it was. */
typedef int (*key_parse_fn)(struct loader *ld, const char *v, void *field, const void *arg);
/* A default that depends on other keys of the section: the text, or NULL for none. */
typedef const char *(*key_derive_fn)(const void *obj);

/* What a field holds that conf_free releases. */
enum key_owns { OWN_NONE, OWN_STRING, OWN_LIST };

/*
 * A key of a section: its parser and field, the value it has when the file
 * does not give it, and what conf_free releases. def is written as in the
 * file and goes through parse when the section begins; derive is asked at the
 * section's end, and only while the field is still unset (NULL, an empty
 * list). A key with neither has no default: the field stays zero, NULL or
 * empty, and the section's checks say whether that is allowed.
 */
struct key_def {
	const char *name;
	key_parse_fn parse;
	size_t off;
	const void *arg;
	const char *def;
	key_derive_fn derive;
	enum key_owns owns;
};

struct choice {
	const char *name;
	int value;
};

struct range {
	unsigned long min, max;
};

static void __attribute__((format(printf, 3, 4)))
conf_error(struct loader *ld, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	buf_printf(ld->err, "%s:%lu: ", ld->path, line);
	if (ld->cur_key)
		buf_printf(ld->err, "[%s] %s: ", ld->section, ld->cur_key);
	va_start(ap, fmt);
	buf_vprintf(ld->err, fmt, ap);
	va_end(ap);
	buf_addch(ld->err, '\n');
	ld->nerr++;
}

/* --- value syntax ----------------------------------------------------- */

int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K':
	case 'k':
		mul = 1024ULL;
		end++;
		break;
	case 'M':
	case 'm':
		mul = 1024ULL * 1024;
		end++;
		break;
	case 'G':
	case 'g':
		mul = 1024ULL * 1024 * 1024;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > ULLONG_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int parse_duration(const char *s, unsigned long *seconds)
{
	char *end;
	unsigned long v, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 's':
		mul = 1;
		end++;
		break;
	case 'm':
		mul = 60;
		end++;
		break;
	case 'h':
		mul = 3600;
		end++;
		break;
	case 'd':
		mul = 86400;
		end++;
		break;
	default:
		break;
	}
	if (*end || v > ULONG_MAX / mul)
		return -1;
	*seconds = v * mul;
	return 0;
}

int parse_duration_ms(const char *s, unsigned long *ms)
{
	size_t n = strlen(s);
	unsigned long v;

	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		char *end;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end != s + n - 2)
			return -1;
		*ms = v;
		return 0;
	}
	if (parse_duration(s, &v) < 0 || v > ULONG_MAX / 1000)
		return -1;
	*ms = v * 1000;
	return 0;
}

int parse_bool(const char *s, int *out)
{
	static const struct choice words[] = {{"yes", 1},   {"no", 0}, {"true", 1},
					      {"false", 0}, {"on", 1}, {"off", 0},
					      {"1", 1},	    {"0", 0},  {NULL, 0}};

	for (const struct choice *w = words; w->name; w++)
		if (strcasecmp(s, w->name) == 0) {
			*out = w->value;
			return 0;
		}
	return -1;
}

int parse_char(const char *s, char *out)
{
	static const struct choice words[] = {
	    {"comma", ','}, {"semicolon", ';'}, {"tab", '\t'}, {"pipe", '|'}, {NULL, 0}};
	size_t n = strlen(s);

	for (const struct choice *w = words; w->name; w++)
		if (strcmp(s, w->name) == 0) {
			*out = (char)w->value;
			return 0;
		}
	if (n == 1 && s[0] != ';' && s[0] != '"') {
		*out = s[0];
		return 0;
	}
	if (n == 3 && s[0] == '"' && s[2] == '"' && s[1] != '\\') {
		*out = s[1];
		return 0;
	}
	if (n == 4 && s[0] == '"' && s[1] == '\\' && s[3] == '"') {
		switch (s[2]) {
		case 't':
			*out = '\t';
			return 0;
		case '"':
			*out = '"';
			return 0;
		case '\\':
			*out = '\\';
			return 0;
		case '\'':
			*out = '\'';
			return 0;
		default:
			return -1;
		}
	}
	return -1;
}

/* --- key parsers ------------------------------------------------------ */

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

	(void)arg;
	if (e == NULL) {
		conf_error(ld, ld->line, "unknown entity '%s' (known: %s)", v, entity_names());
		return -1;
	}
	*(const struct entity **)field = e;
	return 0;
}

static const struct range r_workers = {1, 64};
static const struct range r_days = {1, 36500};
static const struct range r_rows = {1, 1000000};
static const struct range r_retries = {0, 100};
static const struct range r_errors = {0, ULONG_MAX / 2};
static const struct range r_members = {1, 100000};
static const struct range r_ratio = {2, 100000};

static const struct choice c_log[] = {
    {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}, {NULL, 0}};
static const struct choice c_api[] = {{"csv", API_CSV}, {"json", API_JSON}, {NULL, 0}};
static const struct choice c_format[] = {{"csv", FORMAT_CSV}, {"xml", FORMAT_XML}, {NULL, 0}};
static const struct choice c_order[] = {{"name", ORDER_NAME}, {"mtime", ORDER_MTIME}, {NULL, 0}};
static const struct choice c_mode[] = {{"delta", MODE_DELTA}, {"full", MODE_FULL}, {NULL, 0}};
static const struct choice c_validation[] = {
    {"stop-on-errors", VALIDATION_STOP}, {"skip-errors", VALIDATION_SKIP}, {NULL, 0}};

static const struct choice c_export_kind[] = {
    {"orders", EXPORT_ORDERS}, {"bi", EXPORT_BI}, {NULL, 0}};
static const struct choice c_export_format[] = {
    {"csv", EXPORT_CSV}, {"xml", EXPORT_XML}, {"jsonl", EXPORT_JSONL}, {NULL, 0}};
static const struct choice c_compress[] = {{"none", 0}, {"gzip", 1}, {NULL, 0}};
static const struct range r_page = {1, 1000};

static const char *first_behavior(const void *feed)
{
	const struct feed *f = feed;

	return f->entity ? f->entity->behaviors[0] : NULL;
}

static const char *dir_by_kind(const void *export)
{
	const struct export *e = export;

	return e->kind == EXPORT_ORDERS ? "outbound/orders" : "outbound/bi";
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

static const struct key_def dropgate_keys[] = {
	CK("spool", kp_path, spool, NULL, "/srv/dropgate/spool", OWN_STRING),
	CK("state", kp_path, state, NULL, "/var/lib/dropgate", OWN_STRING),
	CK("workers",            kp_uint,     workers,            &r_workers, "2",     OWN_NONE),
	CK("log",                kp_choice,   log_level,          c_log,      "info",  OWN_NONE),
	CK("keep_days",          kp_uint,     keep_days,          &r_days,    "30",    OWN_NONE),
	CK("rescan",             kp_duration, rescan,             NULL,       "60",    OWN_NONE),
	CK("settle",             kp_duration, settle,             NULL,       "30",    OWN_NONE),
	CK("retry_deferred",     kp_duration, retry_deferred,     NULL,       "1m",    OWN_NONE),
	CK("retry_deferred_max", kp_duration, retry_deferred_max, NULL,       "1h",    OWN_NONE),
	CK("min_free",           kp_size,     min_free,           NULL,       "64M",   OWN_NONE),
	CK("worker_memory",      kp_size,     worker_memory,      NULL,       "1G",    OWN_NONE),
	CK("worker_cpu",         kp_duration, worker_cpu,         NULL,       "600",   OWN_NONE),
	CK("max_file_size",      kp_size,     max_file_size,      NULL,       "4G",    OWN_NONE),
	END_OF_KEYS,
};

/* finish_target requires url, and token_file or username and password_file */
static const struct key_def commerce_keys[] = {
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
	END_OF_KEYS,
};

/* finish_feed requires dir and entity */
static const struct key_def feed_keys[] = {
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
	END_OF_KEYS,
};

/* finish_export requires partners, and every or at */
static const struct key_def export_keys[] = {
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
	END_OF_KEYS,
};
/* clang-format on */

/* keys_default: every key with a def, through its own parser; one that fails is our bug. */
static void keys_default(struct loader *ld, const struct key_def *keys, void *obj)
{
	for (const struct key_def *k = keys; k->name; k++)
		if (k->def && k->parse(ld, k->def, (char *)obj + k->off, k->arg) < 0) {
			fprintf(stderr, "conf: the default of %s, '%s', does not parse\n", k->name,
				k->def);
			abort();
		}
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

/* keys_derive: the defaults that depend on other keys, for the fields still unset. */
static void keys_derive(struct loader *ld, const struct key_def *keys, void *obj)
{
	for (const struct key_def *k = keys; k->name; k++) {
		const char *v = k->derive && key_unset(k, obj) ? k->derive(obj) : NULL;
		if (v && k->parse(ld, v, (char *)obj + k->off, k->arg) < 0) {
			fprintf(stderr, "conf: the default of %s, '%s', does not parse\n", k->name,
				v);
			abort();
		}
	}
}

/* keys_release: what the fields of keys hold in obj. */
static void keys_release(const struct key_def *keys, void *obj)
{
	for (const struct key_def *k = keys; k->name; k++) {
		void *field = (char *)obj + k->off;
		if (k->owns == OWN_STRING)
			free(*(char **)field);
		else if (k->owns == OWN_LIST)
			strlist_clear(field);
	}
}

/* --- sections --------------------------------------------------------- */

static struct target *target_new(struct loader *ld, const char *name, int line)
{
	struct conf *c = ld->c;
	struct target *t;

	c->targets = xreallocarray(c->targets, c->ntargets + 1, sizeof(*c->targets));
	t = &c->targets[c->ntargets++];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	t->line = line;
	keys_default(ld, commerce_keys, t);
	return t;
}

static struct feed *feed_new(struct loader *ld, const char *name, int line)
{
	struct conf *c = ld->c;
	struct feed *f;

	c->feeds = xreallocarray(c->feeds, c->nfeeds + 1, sizeof(*c->feeds));
	f = &c->feeds[c->nfeeds++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->line = line;
	keys_default(ld, feed_keys, f);
	return f;
}

static struct export *export_new(struct loader *ld, const char *name, int line)
{
	struct conf *c = ld->c;
	struct export *e;

	c->exports = xreallocarray(c->exports, c->nexports + 1, sizeof(*c->exports));
	e = &c->exports[c->nexports++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	e->at_minutes = -1; /* at unset (every's unset is its 0) */
	e->line = line;
	keys_default(ld, export_keys, e);
	return e;
}

static void finish_export(struct loader *ld, struct export *e)
{
	const char *sec = ld->section;
	unsigned long line = ld->cur_section_line;
	static const char *const bi_entities[] = {"orders", "order_items", "customers", "products",
						  NULL};

	keys_derive(ld, export_keys, e);
	if (e->partners.n == 0)
		conf_error(ld, line,
			   "[%s] partners is required: whose outbound tree receives the files",
			   sec);
	if (e->every && e->at_minutes >= 0)
		conf_error(ld, line, "[%s] give every or at, not both", sec);
	if (!e->every && e->at_minutes < 0)
		conf_error(ld, line, "[%s] every (e.g. 2m) or at (e.g. 02:00) is required", sec);
	for (size_t i = 0; i < e->entities.n; i++) {
		int known = 0;
		for (const char *const *b = bi_entities; *b; b++)
			known |= strcmp(*b, e->entities.v[i]) == 0;
		if (!known)
			conf_error(ld, line,
				   "[%s] entities: '%s' is not one of orders, order_items, "
				   "customers, products",
				   sec, e->entities.v[i]);
	}
}

static void finish_target(struct loader *ld, struct target *t)
{
	const char *sec = ld->section;

	if (t->url == NULL)
		conf_error(ld, ld->cur_section_line, "[%s] url is required", sec);
	else if (strncmp(t->url, "http://", 7) != 0 && strncmp(t->url, "https://", 8) != 0)
		conf_error(ld, ld->cur_section_line,
			   "[%s] url '%s' must start with https:// or http://", sec, t->url);
	if (t->token_file && (t->username || t->password_file))
		conf_error(ld, ld->cur_section_line,
			   "[%s] give token_file, or username and password_file, not both", sec);
	else if (!t->token_file && !(t->username && t->password_file))
		conf_error(ld, ld->cur_section_line,
			   "[%s] token_file, or username and password_file, is required", sec);
}

static void finish_feed(struct loader *ld, struct feed *f)
{
	const char *sec = ld->section;
	unsigned long line = ld->cur_section_line;

	keys_derive(ld, feed_keys, f);
	if (f->dir == NULL)
		conf_error(ld, line, "[%s] dir is required", sec);
	if (f->entity == NULL) {
		conf_error(ld, line, "[%s] entity is required", sec);
	} else if (!entity_behavior_ok(f->entity, f->behavior)) {
		struct buf names = BUF_INIT(4096);
		for (const char *const *b = f->entity->behaviors; *b; b++)
			buf_printf(&names, "%s%s", b == f->entity->behaviors ? "" : ", ", *b);
		conf_error(ld, line, "[%s] behavior '%s' is not one %s takes: %s", sec, f->behavior,
			   f->entity->name, buf_cstr(&names));
		buf_release(&names);
	}
	if (f->delimiter == f->quote)
		conf_error(ld, line, "[%s] delimiter and quote are the same character", sec);
	if (f->format == FORMAT_XML && f->record == NULL)
		conf_error(ld, line,
			   "[%s] format = xml needs record (e.g. record = /Products/Product)", sec);
	if (f->format == FORMAT_CSV && (f->record || f->ns_prefixes.n))
		conf_error(ld, line, "[%s] record and namespace.* apply to format = xml only", sec);
	if (f->format == FORMAT_XML && ld->nmaps == 0)
		conf_error(ld, line,
			   "[%s] format = xml needs map.COLUMN keys: each source is a path "
			   "in the record (map.sku = @sku)",
			   sec);
	if (!f->header && ld->nmaps == 0 && f->format == FORMAT_CSV)
		conf_error(ld, line,
			   "[%s] header = no needs map.COLUMN keys that name columns by "
			   "position (map.sku = 1 | trim)",
			   sec);

	int map_errors = ld->nerr;

	if (ld->nmaps)
		f->map = mapping_new();
	for (size_t i = 0; i < ld->nmaps; i++) {
		struct pending_map *pm = &ld->maps[i];
		struct buf e = BUF_INIT(4096);

		if (!entity_column_name_ok(pm->column))
			conf_error(ld, pm->line,
				   "[%s] map.%s: Commerce column names are lower case letters, "
				   "digits and '_'",
				   sec, pm->column);
		else if (f->entity && !f->entity->open_columns &&
			 entity_column(f->entity, pm->column) == NULL)
			conf_error(ld, pm->line, "[%s] map.%s: %s has no column '%s'", sec,
				   pm->column, f->entity->name, pm->column);
		else if (mapping_add(f->map, pm->column, pm->expr, ld->basedir, &ld->c->files, &e) <
			 0)
			conf_error(ld, pm->line, "[%s] map.%s: %s", sec, pm->column, buf_cstr(&e));
		buf_release(&e);
	}
	map_errors = ld->nerr - map_errors;
	if (f->format == FORMAT_XML && f->map && !map_errors) {
		struct buf e = BUF_INIT(4096);
		if (xmlin_check_feed(f, &e) < 0)
			conf_error(ld, line, "[%s] %s", sec, buf_cstr(&e));
		buf_release(&e);
	}
	/* a column whose map. failed to compile is not also "missing" */
	if (f->map && f->entity && !map_errors) {
		int del = f->behavior && strcmp(f->behavior, "delete") == 0;
		for (const struct column_rule *r = f->entity->columns; r->name; r++) {
			int needed = (r->flags & COL_REQUIRED) || ((r->flags & COL_ADD) && !del);
			int mapped = 0;
			for (size_t i = 0; i < mapping_count(f->map); i++)
				mapped |= strcmp(mapping_column(f->map, i), r->name) == 0;
			if (needed && !mapped)
				conf_error(ld, line, "[%s] %s needs the column '%s': add map.%s",
					   sec, f->entity->name, r->name, r->name);
		}
	}
}

static void finish_section(struct loader *ld)
{
	if (ld->kind == SEC_COMMERCE)
		finish_target(ld, ld->obj);
	else if (ld->kind == SEC_FEED)
		finish_feed(ld, ld->obj);
	else if (ld->kind == SEC_EXPORT)
		finish_export(ld, ld->obj);
	for (size_t i = 0; i < ld->nmaps; i++) {
		free(ld->maps[i].column);
		free(ld->maps[i].expr);
	}
	free(ld->maps);
	ld->maps = NULL;
	ld->nmaps = 0;
	free(ld->section);
	ld->section = NULL;
	ld->kind = SEC_NONE;
	ld->obj = NULL;
	ld->seen = 0;
}

static int valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static void begin_section(struct loader *ld, const char *section)
{
	const char *space = strchr(section, ' ');
	char *type = xstrndup(section, space ? (size_t)(space - section) : strlen(section));
	const char *name = space ? space + 1 : NULL;
	struct conf *c = ld->c;

	ld->section = xstrdup(section);
	ld->cur_section_line = ld->section_line;
	ld->kind = SEC_UNKNOWN;
	if (strcmp(type, "dropgate") == 0 && name == NULL) {
		if (ld->seen_dropgate)
			conf_error(ld, ld->section_line, "[dropgate] appears twice");
		ld->seen_dropgate = 1;
		ld->kind = SEC_DROPGATE;
		ld->obj = c;
	} else if (strcmp(type, "commerce") == 0 || strcmp(type, "feed") == 0) {
		int is_feed = type[0] == 'f';
		const char *n = name ? name : "default";
		if (is_feed && name == NULL) {
			conf_error(ld, ld->section_line, "[feed] needs a name: [feed NAME]");
		} else if (!valid_name(n)) {
			conf_error(ld, ld->section_line,
				   "[%s]: names are letters, digits, '_', '-' and '.'", section);
		} else if (is_feed ? conf_feed(c, n) != NULL : conf_target(c, n) != NULL) {
			conf_error(ld, ld->section_line, "[%s] appears twice", section);
		} else {
			ld->kind = is_feed ? SEC_FEED : SEC_COMMERCE;
			ld->obj = is_feed ? (void *)feed_new(ld, n, (int)ld->section_line)
					  : (void *)target_new(ld, n, (int)ld->section_line);
		}
	} else if (strcmp(type, "export") == 0 && name && valid_name(name)) {
		if (conf_export(c, name)) {
			conf_error(ld, ld->section_line, "[%s] appears twice", section);
		} else {
			ld->kind = SEC_EXPORT;
			ld->obj = export_new(ld, name, (int)ld->section_line);
		}
	} else {
		conf_error(ld, ld->section_line,
			   "unknown section [%s] (known: [dropgate], [commerce], [commerce NAME], "
			   "[feed NAME], [export NAME])",
			   section);
	}
	free(type);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct key_def *keys = NULL;
	size_t i;

	if (ld->section == NULL || strcmp(ld->section, section) != 0 ||
	    ld->cur_section_line != ld->section_line) {
		finish_section(ld);
		if (*section == '\0') {
			conf_error(ld, ld->line, "key '%s' comes before any [section]", name);
			ld->section = xstrdup("");
			ld->cur_section_line = ld->section_line;
			ld->kind = SEC_UNKNOWN;
			return 1;
		}
		begin_section(ld, section);
	}
	switch (ld->kind) {
	case SEC_DROPGATE:
		keys = dropgate_keys;
		break;
	case SEC_COMMERCE:
		keys = commerce_keys;
		break;
	case SEC_FEED:
		keys = feed_keys;
		break;
	case SEC_EXPORT:
		keys = export_keys;
		break;
	default:
		return 1; /* already reported */
	}
	if (ld->kind == SEC_FEED && strncmp(name, "map.", 4) == 0) {
		for (i = 0; i < ld->nmaps; i++)
			if (strcmp(ld->maps[i].column, name + 4) == 0) {
				conf_error(ld, ld->line,
					   "[%s] %s is given twice (first on line %lu)", section,
					   name, ld->maps[i].line);
				return 1;
			}
		ld->maps = xreallocarray(ld->maps, ld->nmaps + 1, sizeof(*ld->maps));
		ld->maps[ld->nmaps].column = xstrdup(name + 4);
		ld->maps[ld->nmaps].expr = xstrdup(value);
		ld->maps[ld->nmaps].line = ld->line;
		ld->nmaps++;
		return 1;
	}
	if (ld->kind == SEC_FEED && strncmp(name, "namespace.", 10) == 0) {
		struct feed *f = ld->obj;
		if (strlist_has(&f->ns_prefixes, name + 10))
			conf_error(ld, ld->line, "[%s] %s is given twice", section, name);
		strlist_push(&f->ns_prefixes, name + 10);
		strlist_push(&f->ns_uris, value);
		return 1;
	}
	for (i = 0; keys[i].name; i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	if (keys[i].name == NULL) {
		struct buf names = BUF_INIT(4096);
		for (size_t j = 0; keys[j].name; j++)
			buf_printf(&names, "%s%s", j ? ", " : "", keys[j].name);
		conf_error(ld, ld->line, "[%s] unknown key '%s' (known: %s%s)", section, name,
			   buf_cstr(&names),
			   ld->kind == SEC_FEED ? ", map.COLUMN, namespace.PREFIX" : "");
		buf_release(&names);
		return 1;
	}
	if (ld->seen & (1ULL << i)) {
		conf_error(ld, ld->line, "[%s] key '%s' is given twice", section, name);
		return 1;
	}
	ld->seen |= 1ULL << i;
	ld->cur_key = name;
	keys[i].parse(ld, value, (char *)ld->obj + keys[i].off, keys[i].arg);
	ld->cur_key = NULL;
	return 1;
}

/* reader: one line at a time, counted, refused when longer than inih takes. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	const char *s;
	size_t len;

	if (ld->line_too_long)
		return NULL;
	n = getline(&line, &cap, ld->fp);
	if (n < 0) {
		free(line);
		return NULL;
	}
	ld->line++;
	len = (size_t)n;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	s = line;
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	/* inih needs room for the newline and the NUL on top of the text */
	if (len + 3 > (size_t)num) {
		conf_error(ld, ld->line, "line is %zu characters long; at most %d are read", len,
			   num - 3);
		ld->line_too_long = 1;
		free(line);
		return NULL;
	}
	if (len && *s == '[')
		ld->section_line = ld->line;
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	free(line);
	return str;
}

static void check_whole(struct loader *ld)
{
	struct conf *c = ld->c;

	for (size_t i = 0; i < c->nexports; i++)
		if (conf_target(c, c->exports[i].target) == NULL)
			conf_error(ld, (unsigned long)c->exports[i].line,
				   "[export %s] target: no section [commerce %s]",
				   c->exports[i].name, c->exports[i].target);
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct feed *f = &c->feeds[i];
		for (size_t j = 0; j < f->targets.n; j++)
			if (conf_target(c, f->targets.v[j]) == NULL)
				conf_error(ld, (unsigned long)f->line,
					   "[feed %s] targets: no section [commerce%s%s]", f->name,
					   strcmp(f->targets.v[j], "default") ? " " : "",
					   strcmp(f->targets.v[j], "default") ? f->targets.v[j]
									      : "");
	}
}

/* read_whole: fp's bytes, NUL-terminated; NULL with the reason in err. fp is closed. */
static char *read_whole(FILE *fp, const char *path, size_t *len, struct buf *err)
{
	char *text;
	size_t n;
	int failed;

	text = xmalloc(CONF_MAX_TEXT + 1);
	n = fread(text, 1, CONF_MAX_TEXT + 1, fp);
	failed = ferror(fp) || n > CONF_MAX_TEXT;
	if (ferror(fp))
		buf_printf(err, "%s: cannot read the configuration: %s\n", path, strerror(errno));
	else if (n > CONF_MAX_TEXT)
		buf_printf(err, "%s: the configuration is longer than %d bytes\n", path,
			   CONF_MAX_TEXT);
	fclose(fp);
	if (failed) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = n;
	return text;
}

static struct conf *load(const char *path, const char *text, size_t len,
			 const struct filesnap *given, struct buf *err);

struct conf *conf_load(const char *path, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	FILE *fp = fd < 0 ? NULL : fdopen(fd, "r");
	size_t len = 0;
	char *text;
	struct conf *c;

	if (fp == NULL) {
		buf_printf(err, "%s: cannot read the configuration: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	text = read_whole(fp, path, &len, err);
	if (text == NULL)
		return NULL;
	c = load(path, text, len, NULL, err);
	free(text);
	return c;
}

struct conf *conf_load_text(const char *path, const char *text, size_t len, struct buf *err)
{
	return load(path, text, len, NULL, err);
}

int conf_snapshot_write(const struct conf *c, int fd)
{
	struct filesnap self = FILESNAP_INIT;
	int rc;

	filesnap_add(&self, c->path, c->text, c->textlen);
	rc = filesnap_write(&self, fd) < 0 || filesnap_write(&c->files, fd) < 0 ? -1 : 0;
	filesnap_clear(&self);
	return rc;
}

struct conf *conf_load_snapshot(int fd, struct buf *err)
{
	struct filesnap s = FILESNAP_INIT;
	struct conf *c = NULL;

	if (filesnap_read(&s, fd, CONF_MAX_SNAPSHOT, err) < 0) {
		buf_addstr(err, "\n");
		return NULL;
	}
	if (s.n == 0)
		buf_printf(err, "the configuration handed over is empty\n");
	else
		c = load(s.v[0].name, s.v[0].data, s.v[0].len, &s, err);
	filesnap_clear(&s);
	return c;
}

/* load: parse text as path's; lookup tables from given (all but its first file) or disk. */
static struct conf *load(const char *path, const char *text, size_t len,
			 const struct filesnap *given, struct buf *err)
{
	struct loader ld;
	struct conf *c = xcalloc(1, sizeof(*c));
	const char *slash;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	ld.err = err;
	ld.c = c;
	c->path = xstrdup(path);
	c->text = xmalloc(len + 1);
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->textlen = len;
	for (size_t i = 1; given && i < given->n; i++)
		filesnap_add(&c->files, given->v[i].name, given->v[i].data, given->v[i].len);
	slash = strrchr(path, '/');
	ld.basedir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	keys_default(&ld, dropgate_keys, c);
	/* an empty text: fmemopen refuses a zero size, and an empty file is an empty stream */
	ld.fp = len ? fmemopen(c->text, len, "r") : fopen("/dev/null", "re");
	if (ld.fp == NULL) {
		buf_printf(err, "%s: cannot read the configuration: %s\n", path, strerror(errno));
		free(ld.basedir);
		conf_free(c);
		return NULL;
	}
	rc = ini_parse_stream(reader, &ld, handler, &ld);
	finish_section(&ld);
	if (rc > 0 && !ld.line_too_long)
		conf_error(&ld, (unsigned long)rc, "not a [section], key = value, or comment");
	check_whole(&ld);
	fclose(ld.fp);
	free(ld.basedir);
	if (ld.nerr) {
		conf_free(c);
		return NULL;
	}
	return c;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->ntargets; i++) {
		free(c->targets[i].name);
		keys_release(commerce_keys, &c->targets[i]);
	}
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct feed *f = &c->feeds[i];
		free(f->name);
		keys_release(feed_keys, f);
		mapping_free(f->map);
		strlist_clear(&f->ns_prefixes);
		strlist_clear(&f->ns_uris);
	}
	for (size_t i = 0; i < c->nexports; i++) {
		free(c->exports[i].name);
		keys_release(export_keys, &c->exports[i]);
	}
	keys_release(dropgate_keys, c);
	free(c->exports);
	free(c->targets);
	free(c->feeds);
	free(c->path);
	free(c->text);
	filesnap_clear(&c->files);
	free(c);
}

const struct feed *conf_feed(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nfeeds; i++)
		if (strcmp(c->feeds[i].name, name) == 0)
			return &c->feeds[i];
	return NULL;
}

const struct export *conf_export(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nexports; i++)
		if (strcmp(c->exports[i].name, name) == 0)
			return &c->exports[i];
	return NULL;
}

const struct target *conf_target(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->ntargets; i++)
		if (strcmp(c->targets[i].name, name) == 0)
			return &c->targets[i];
	return NULL;
}
