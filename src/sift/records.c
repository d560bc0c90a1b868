#include "config.h"

#include <stdint.h>

#include "lib/batch.h"
#include "lib/csvin.h"
#include "sift/records.h"

struct reader {
	record_fn fn;
	void *ctx;
	size_t index; /* 0: the header */
};

static int on_row(void *ctx, const struct csvin_row *row)
{
	struct reader *r = ctx;

	return r->fn(r->ctx, row->fields, row->n, r->index++);
}

int each_record(const char *csv, size_t len, record_fn fn, void *ctx, struct buf *err)
{
	struct csvin_opts o = {.delimiter = ',',
			       .quote = '"',
			       .strict = 1,
			       .max_field = SIZE_MAX / 4,
			       .max_row = SIZE_MAX / 4,
			       .max_fields = 1u << 20};
	struct reader r = {fn, ctx, 0};
	struct csvin *c = csvin_new(&o, on_row, &r);
	int rc = csvin_feed(c, csv, len);

	if (rc == 0)
		rc = csvin_finish(c);
	if (rc < 0) {
		buf_printf(err, "a batch does not read back as CSV: ");
		csvin_describe(c, err);
	}
	csvin_free(c);
	return rc < 0 ? -1 : 0;
}

void record_text(struct buf *out, const struct strview *v, size_t n)
{
	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_add(out, ",", 1);
		csv_append_field(out, v[i].p, v[i].len);
	}
}
