/*
 * mapping - turns a partner's row into a Commerce row: `map.COLUMN = EXPR`.
 *
 *   EXPR   = ( "literal" | SOURCE ) { "|" FILTER }
 *   FILTER = trim | upper | lower | number("DEC"[, "THOU"]) | instock
 *          | default("x") | date("IN-FORMAT") | lookup(FILE) | required
 *
 * SOURCE is a column of the partner's header (or its 1-based position when
 * the feed has header = no). Filters are rows of a table in filters.c
 * (adding a filter is adding a row there); this module parses, compiles,
 * binds and applies expressions.
 *
 * A mapping is compiled once from the configuration (mapping_add reports
 * syntax errors, unknown filters and unreadable lookup files), bound to each
 * file's header (mapping_bind: a source column the file lacks rejects the
 * file), then applied to every row with no allocation on the row path
 * (mapping_apply writes into a reusable struct map_row). A value a filter
 * cannot take ("12a" for number) is a row problem naming the partner's column.
 * upper and lower change ASCII and Latin-1 letters (a-z, à-þ), no others.
 */
#ifndef DG_MAPPING_H
#define DG_MAPPING_H

#include <stddef.h>

#include "util/buf.h"
#include "util/strview.h"

struct filesnap;
struct mapping;

/* The result of one row: values[i] for the mapping's column i. */
struct map_row {
	struct strview *values;
	size_t n;
	struct buf arena; /* bytes the filters made, written in place one after another */
	struct buf msg;	  /* a filter's problem */
	size_t value_cap; /* bytes in one value */
	size_t *offsets;  /* per value: offset into arena, or (size_t)-1 */
};

typedef void (*map_problem_fn)(void *ctx, size_t column, const char *source, struct strview value,
			       const char *message);

struct mapping *mapping_new(void);
void mapping_free(struct mapping *m);
/*
 * mapping_add: compile `map.column = expr`; basedir resolves lookup files.
 * files, when not NULL: a lookup file found there is taken from it, not from
 * disk, and one read from disk is added to it (what the daemon hands its
 * parser child, so that both use the same tables).
 */
int mapping_add(struct mapping *m, const char *column, const char *expr, const char *basedir,
		struct filesnap *files, struct buf *err);
size_t mapping_count(const struct mapping *m);
const char *mapping_column(const struct mapping *m, size_t i);
/* mapping_source: the partner column behind column i, NULL for a literal. */
const char *mapping_source(const struct mapping *m, size_t i);
/* mapping_literal: column i's "literal" when it is one and no filter follows, else NULL. */
const char *mapping_literal(const struct mapping *m, size_t i);

/*
 * mapping_bind: resolve every source column against a file's header into
 * srcidx[] (mapping_count entries). header_numbers: names are positions.
 * -1 with err set when a column is missing.
 */
int mapping_bind(const struct mapping *m, const struct strview *header, size_t nheader,
		 int header_numbers, int *srcidx, struct buf *err);

void map_row_init(struct map_row *r, size_t value_cap);
void map_row_release(struct map_row *r);
/*
 * mapping_apply: compute every column of one row. Returns the number of
 * problems found (each also passed to problem()); the row is usable only when
 * that is 0.
 */
int mapping_apply(const struct mapping *m, const int *srcidx, const struct strview *fields,
		  size_t nfields, struct map_row *out, map_problem_fn problem, void *ctx);

#endif
