/*
 * feed - what arrives where and how it is read: one [feed NAME] section, as
 * conf read it (each key of conf_keys.c's [feed] table, its default when not
 * given, map.COLUMN keys compiled into map, namespace.PREFIX keys into the
 * ns_ lists).
 *
 * A plain struct: the configuration owns it, its strings, lists and mapping;
 * conf_free releases them. entity points into entity.c's static table.
 */
#ifndef DG_FEED_H
#define DG_FEED_H

#include "lib/stamp.h"
#include "util/strlist.h"

struct entity;
struct mapping;
struct operation;

enum feed_format { FORMAT_CSV, FORMAT_XML };
enum feed_complete { COMPLETE_CLOSE, COMPLETE_OKFILE, COMPLETE_QUIET };
enum feed_order { ORDER_NAME, ORDER_MTIME };
enum feed_mode { MODE_DELTA, MODE_FULL };
enum feed_validation { VALIDATION_STOP, VALIDATION_SKIP };

struct feed {
	char *name;
	struct strlist partners;
	char *dir;
	struct strlist match;
	struct strlist members;
	enum feed_format format;
	char delimiter;
	char quote;
	int strict;
	char *encoding;
	int header;
	enum feed_complete complete;
	unsigned long quiet_seconds;
	enum feed_order order;
	enum feed_mode mode;
	const struct entity *entity;
	char *behavior;
	enum feed_validation validation;
	unsigned long allowed_errors;
	struct strlist targets;
	struct mapping *map; /* NULL: columns pass through */
	/* format = xml */
	char *record;
	struct strlist ns_prefixes, ns_uris;
	char *schema;
	/* archives */
	unsigned long max_members;
	unsigned long long max_inflated;
	unsigned long max_ratio;
	int nested;
	/* a sequence's time line and key store (sift/): NULL sequence, none */
	char *sequence;
	struct {
		enum stamp_kind kind;
		char *format; /* STAMP_NAME: strptime fields in the name */
		char *spec;   /* as written, for messages */
	} stamp;
	int diff;				 /* send only rows that differ */
	struct strlist absent_cols, absent_vals; /* absent.COLUMN = value */
	double max_absent;			 /* share of known keys, 0..1 */
	/* expect = daily HH:MM | every DURATION (src/ops/expect.h); expect.partners */
	enum feed_expect { EXPECT_NONE, EXPECT_DAILY, EXPECT_EVERY } expect;
	int expect_at;		     /* EXPECT_DAILY: minutes after local midnight */
	unsigned long expect_every;  /* EXPECT_EVERY: seconds */
	struct strlist expect_partners; /* empty: the feed's partners */
	/* operation = ...: REST operations instead of an import (lib/operation.h, src/orders/) */
	const struct operation *operation; /* NULL: an import; entity is then the operation's */
	int group_by_order;		   /* group_by = order (the default) | row */
	unsigned long page_size;	   /* orders (companies) per search call */
	int line; /* of its [section] header */
};

/* feed_allowance: rows the feed lets be rejected in all, whoever rejects them: none with
   validation = stop-on-errors, else allowed_errors. */
static inline unsigned long feed_allowance(const struct feed *f)
{
	return f->validation == VALIDATION_STOP ? 0 : f->allowed_errors;
}

#endif
