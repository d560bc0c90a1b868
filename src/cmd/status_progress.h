/*
 * status_progress - what `dropgate status` adds for operators: each file in
 * flight's progress (rows parsed of the file's rows while the parser child
 * reads it, from its .progress file; batches confirmed of the batches per
 * target while it is submitted, from the ledger; rows per second, ETA), the
 * late feeds (ops/expect.h), and how they are drawn.
 *
 * The JSON is part of `status --json`'s schema (README: "status --json"):
 *   "progress": {"phase": "waiting"|"parsing"|"submitting", "rows_parsed",
 *     "rows_total" (null while unknown: parsing estimates it from the bytes),
 *     "bytes_read", "bytes_total", "rows_done", "targets": [{"target",
 *     "batches_done", "batches"}], "rows_per_second", "eta_seconds" (null:
 *     unknown)}
 *   "late": [{"partner", "feed", "since"}]
 */
#ifndef DG_STATUS_PROGRESS_H
#define DG_STATUS_PROGRESS_H

#include <jansson.h>

#include "queue/ledger.h"

struct conf;

json_t *status_progress(struct ledger *l, const struct conf *c, const struct ledger_file *f);
json_t *status_late(struct ledger *l);
/* status_print_progress: one indented line; bars when tty */
void status_print_progress(json_t *progress, int tty);
void status_print_late(json_t *late);

#endif
