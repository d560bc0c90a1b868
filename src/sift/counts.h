/*
 * counts - a sequence's file's rows as the partner's report, `status --json`
 * and `show` tell them, from the ledger (queue/keys.h, file_targets):
 * rows_sent, rows_unchanged, rows_superseded, rows_absent in all, and per
 * target under "targets" with rows_rejected too.
 */
#ifndef DG_COUNTS_H
#define DG_COUNTS_H

struct json_t;
struct ledger;

/* counts_json: NULL when the file has no counts (not in a sequence); else a new object. */
struct json_t *counts_json(struct ledger *l, long long file_id);

#endif
