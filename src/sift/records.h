/*
 * records - our own batches read back (sift/): a Commerce CSV as
 * csvin reads it, the header and then each record to a callback, and a
 * record made text again the way batch.c writes it.
 */
#ifndef DG_RECORDS_H
#define DG_RECORDS_H

#include <stddef.h>

#include "util/buf.h"
#include "util/strview.h"

/* A record's fields; index 0 is the header (or a lone record read on its own). */
typedef int (*record_fn)(void *ctx, const struct strview *v, size_t n, size_t index);

/* each_record: fn for each record of CSV text, in order. 0, or -1 with err. */
int each_record(const char *csv, size_t len, record_fn fn, void *ctx, struct buf *err);
/* record_text: values as one CSV record, without its line end, into out (reset first). */
void record_text(struct buf *out, const struct strview *v, size_t n);

#endif
