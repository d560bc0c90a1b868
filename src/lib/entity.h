/*
 * entity - what Commerce's import accepts, per entity: the column set, which
 * columns are required, which form the key, and the check each value must
 * pass. The rules follow ../shared/commerce-api.md (the Admin sample files and
 * Magento's ImportExport validators).
 *
 * Adding an entity or a column is adding a row to a table in entity.c. The
 * checks never allocate on success: they return 0, or -1 with a message in
 * *msg ("sku is 70 characters long; Commerce allows at most 64").
 */
#ifndef DG_ENTITY_H
#define DG_ENTITY_H

#include <stddef.h>

#include "util/buf.h"

#define COL_REQUIRED 0x1 /* the column must be in the file */
#define COL_ADD 0x2      /* required unless behavior = delete */
#define COL_KEY 0x4      /* part of the row's key (duplicates) */
#define COL_NONEMPTY 0x8 /* the value must not be empty */

struct column_rule;
typedef int (*value_check_fn)(const char *v, size_t len, const struct column_rule *r,
			      struct buf *msg);

struct column_rule {
	const char *name;
	unsigned flags;
	value_check_fn check; /* NULL: any text */
	const char *const *choices; /* for check_choice */
	size_t max_chars;           /* 0: no limit */
};

struct entity {
	const char *name;
	const char *const *behaviors; /* first is the default */
	const struct column_rule *columns;
	int open_columns; /* 1: other columns (attributes) are allowed */
	/* Rows whose key columns are all empty carry no key (e.g. a composite
	   customer's further address rows). */
};

const struct entity *entity_find(const char *name);
/* entity_names: "a, b, c" of every entity, for messages. */
const char *entity_names(void);
const struct column_rule *entity_column(const struct entity *e, const char *name);
int entity_behavior_ok(const struct entity *e, const char *behavior);
/* entity_column_name_ok: Commerce's rule for a column name it can import. */
int entity_column_name_ok(const char *name);
/*
 * entity_check_value: run r's checks on one value (empty values pass unless
 * COL_NONEMPTY). 0 or -1 with *msg set.
 */
int entity_check_value(const struct column_rule *r, const char *v, size_t len, struct buf *msg);
/* The value checks, for other column tables (lib/operation.c): a number > 0, >= 0, a
   whole number, an e-mail address. */
int entity_check_positive(const char *v, size_t len, const struct column_rule *r, struct buf *msg);
int entity_check_nonneg(const char *v, size_t len, const struct column_rule *r, struct buf *msg);
int entity_check_integer(const char *v, size_t len, const struct column_rule *r, struct buf *msg);
int entity_check_email(const char *v, size_t len, const struct column_rule *r, struct buf *msg);
/* is_plain_decimal: -?digits[.digits], as Commerce reads numbers. */
int is_plain_decimal(const char *v, size_t len);
/* utf8_chars: characters in valid UTF-8 text. */
size_t utf8_chars(const char *v, size_t len);

#endif
