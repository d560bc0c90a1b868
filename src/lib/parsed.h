/*
 * parsed - what the parser child leaves for the daemon, read back.
 *
 * The child (`dropgate check --origins`) writes to its out dir F.result.json
 * (the partner report: state, counts, messages), .F.members (the archive's
 * member names, one a line) and, per batch, .F.batch-NNNN.lines (its rows'
 * struct batch_origin). The child read partner bytes, so the daemon takes
 * none of it on trust: parsed_result refuses a result the child would not
 * write (a state other than valid, partial or rejected; rows, rows_rejected
 * or batches missing or not a count below 2^32; more rows rejected than rows;
 * messages that are not strings), and parsed_origins a size that is not a
 * whole number of rows. Nothing here writes.
 */
#ifndef DG_PARSED_H
#define DG_PARSED_H

#include <stddef.h>

#include "util/buf.h"
#include "util/strlist.h"

struct json_t;

/* parsed_result: F.result.json's text checked; NULL with err when refused. */
struct json_t *parsed_result(const char *text, size_t len, struct buf *err);
/* parsed_result_load: the same from path; NULL with err empty when there is no file. */
struct json_t *parsed_result_load(const char *path, struct buf *err);
/* parsed_members: each line of .F.members pushed to out (a name ends at a NUL). */
void parsed_members(const char *text, size_t len, struct strlist *out);
/* parsed_members_load: the same from path; nothing pushed when there is no file. */
void parsed_members_load(const char *path, struct strlist *out);
/* parsed_origins: the rows a .lines file of len bytes holds; -1 with err if not whole. */
int parsed_origins(size_t len, size_t *rows, struct buf *err);

#endif
