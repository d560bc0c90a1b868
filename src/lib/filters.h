/*
 * filters - the filters of a mapping expression (`map.sku = ItemNo | trim | upper`):
 * trim, upper, lower, number, instock, default, date, lookup, required.
 *
 * Adding a filter is adding a row to filter_table[] in filters.c: its name,
 * how many arguments it takes, a compile function run once when the
 * configuration is read (NULL when the arguments need no work) and an apply
 * function run on every value. mapping.c parses the expression and calls
 * filter_find and filter_compile; this module knows nothing of columns.
 *
 * Bad input: filter_find returns NULL for a name that is no row
 * (filter_names lists the rows for the message); filter_compile sets err for
 * the wrong number of arguments or arguments the filter cannot take (a
 * two-character separator, an unreadable lookup file). An apply function
 * returns -1 with msg saying what is wrong with the value ("'12a' is not a
 * number written like 1234,5"); the caller names the column. Apply functions
 * never allocate beyond the caller's out buffer (a value that does not fit
 * its cap is -1 with msg left empty) and never read files: lookup tables are
 * read once, at compile time.
 */
#ifndef DG_FILTERS_H
#define DG_FILTERS_H

#include <stddef.h>

#include "util/buf.h"
#include "util/strview.h"

struct filesnap;
struct filter;
struct lookup;

/* What a filter compiles against: the configuration's directory and the files it was read with. */
struct filter_env {
	const char *basedir;
	struct filesnap *files; /* NULL: read from disk, keep nothing */
};

typedef int (*filter_compile_fn)(struct filter *f, char **args, int nargs,
				 const struct filter_env *env, struct buf *err);
/*
 * filter_apply_fn: v in, v out. The new value is v itself narrowed, a
 * constant, or bytes written at the end of out, at most v->len + FILTER_ROOM
 * of them. v may point into out, before its end: the caller has made that
 * room in out beforehand, so that out does not move while the filter runs
 * (a filter that wants more finds out's cap in its way). 0, or -1 with msg
 * (empty msg: out's cap).
 */
#define FILTER_ROOM 64
typedef int (*filter_apply_fn)(const struct filter *f, struct strview *v, struct buf *out,
			       struct buf *msg);

/* A row of the filter table. */
struct filter_def {
	const char *name;
	int min_args, max_args;
	filter_compile_fn compile;
	filter_apply_fn apply;
};

/* One filter of an expression, compiled. */
struct filter {
	const struct filter_def *def;
	char dec, thou;
	char *text;   /* default: the value; date: the format */
	int has_time; /* date: the format reads a time of day */
	struct lookup *lookup;
};

/* filter_find: the table's row for name, or NULL. */
const struct filter_def *filter_find(const char *name);
/* filter_names: "trim, upper, ..." appended to out, for "unknown filter" messages. */
void filter_names(struct buf *out);
/* filter_compile: f as the row d with these arguments; -1 with err set. */
int filter_compile(struct filter *f, const struct filter_def *d, char **args, int nargs,
		   const struct filter_env *env, struct buf *err);
/* filter_release: what compiling f allocated. */
void filter_release(struct filter *f);

/* number_normalise: DEC/THOU text to plain decimal in out; -1 if not a number. */
int number_normalise(struct strview in, char dec, char thou, struct buf *out);

#endif
