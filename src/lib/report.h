/*
 * report - what the partner reads: F.result.json and F.errors.csv.
 *
 * F.errors.csv is written while the file is read (so memory does not grow
 * with the number of problems): a UTF-8 BOM, the header
 * line,column,value,message, then a row per problem, CRLF line ends. A cell a
 * spreadsheet would run as a formula (starting with = + - @, tab or CR) is
 * neutralised with a leading apostrophe. F.result.json is written at the end.
 * Both appear atomically (written under a dot-name, fsync'd, renamed), and a
 * report from an earlier run of the same file is replaced; F.errors.csv is
 * removed when this run has no problems.
 */
#ifndef DG_REPORT_H
#define DG_REPORT_H

#include <stdio.h>
#include <time.h>

#include "lib/pipeline.h"
#include "util/buf.h"
#include "util/publish.h"

struct json_t;

struct report {
	char *dir;
	char *name;
	struct publish errors_file; /* F.errors.csv until finished (util/publish) */
	FILE *errors;               /* its stream */
	unsigned long nproblems;
	struct json_t *messages;
	char received[32];
};

struct report_summary {
	long long id; /* < 0: null (check) */
	const char *feed;
	const char *state;
	unsigned long rows, rows_ok, rows_rejected, batches;
	struct json_t *more; /* NULL, or fields that follow batches (a sequence's counts) */
};

/*
 * report_base: the name files about name go by when a suffix of room bytes
 * follows: name itself, or, when that would pass NAME_MAX, its first bytes,
 * '~' and a 64-bit hash of the whole name (the report's "file" keeps it all).
 */
char *report_base(const char *name, size_t room);
/* report_result_path, report_errors_path: dir/F.result.json, dir/F.errors.csv */
char *report_result_path(const char *dir, const char *name);
char *report_errors_path(const char *dir, const char *name);
/* report_open: start the report of name (the file as dropped) in dir. Temporary
   files are created with O_EXCL under random names: dir may be the partner's. */
int report_open(struct report *r, const char *dir, const char *name, struct buf *err);
void report_problem(struct report *r, const char *line, const char *column, const char *value,
		    size_t value_len, const char *message);
void report_message(struct report *r, const char *msg);
/* report_take_errors: the problem rows of another errors.csv (a worker's), appended. */
int report_take_errors(struct report *r, const char *errors_csv);
int report_finish(struct report *r, const struct report_summary *s, struct buf *err);
/* report_abandon: remove what was written, for a run that failed. */
void report_release(struct report *r);
/* iso_time: t as 2026-11-27T06:00:00Z. */
void iso_time(time_t t, char out[32]);
/* csv_cell_neutralise: would a spreadsheet read v as a formula? */
int csv_cell_is_formula(const char *v, size_t len);

#endif
