/*
 * parsed - what the parser child leaves for the daemon, read back.
 *
 * The child (`dropgate check --origins`) writes to its out dir F.result.json
 * (the partner report: state, counts, messages) and .F.members (the archive's
 * member names, each ended by a NUL). The child read partner bytes, so the
 * daemon takes none of it on trust: parsed_result refuses a result the child
 * would not write (a state other than valid, partial or rejected; rows,
 * rows_rejected or batches missing or not a count below 2^32; more rows
 * rejected than rows; messages that are not strings), and nothing here reads a
 * link or a file with several links. (The .lines sizes are checked where they are read,
 * parse/parcel.c.) Nothing here writes.
 */
#ifndef DG_PARSED_H
#define DG_PARSED_H

#include <stddef.h>

#include "util/buf.h"
#include "util/strlist.h"

struct json_t;

/*
 * parsed_read: a file the parser child wrote, into out (reset first): only a
 * plain file with one link is read (else EPERM). 0, 1 when there is no such
 * file (err untouched), -1 with err ("cannot read PATH: ...", or past out's cap).
 */
int parsed_read(const char *path, struct buf *out, struct buf *err);
/* parsed_result: F.result.json's text checked; NULL with err when refused. */
struct json_t *parsed_result(const char *text, size_t len, struct buf *err);
/* parsed_result_load: the same from path; NULL with err empty when there is no file. */
struct json_t *parsed_result_load(const char *path, struct buf *err);
/* parsed_members: each NUL-ended name of .F.members pushed to out. */
void parsed_members(const char *text, size_t len, struct strlist *out);
/* parsed_members_load: the same from path; nothing pushed when there is no file. */
void parsed_members_load(const char *path, struct strlist *out);

#endif
