/*
 * payload - the body of one import request.
 *
 * For api = csv: {"source": {entity, behavior, validationStrategy,
 * allowedErrorCount, csvData, importFieldSeparator, ...}} where csvData is the
 * batch gzip-compressed (zlib) and base64-encoded (OpenSSL). For api = json:
 * the same fields with "items", an array of objects keyed by the batch's
 * header. Pure functions: no I/O, nothing kept between calls.
 */
#ifndef DG_PAYLOAD_H
#define DG_PAYLOAD_H

#include <stddef.h>

#include "util/buf.h"

struct import_params {
	const char *entity;
	const char *behavior;
	int skip_errors;          /* validation-skip-errors, else stop-on-errors */
	unsigned long allowed_errors;
};

/* gzip_compress: in as one gzip member appended to out. */
int gzip_compress(const char *in, size_t len, struct buf *out);
/* payload_csv: the JSON body for /V1/import/csv. 0, or -1 with err set. */
int payload_csv(const struct import_params *p, const char *csv, size_t len, struct buf *body,
		struct buf *err);
/* payload_json: the JSON body for /V1/import/json from a batch's CSV. */
int payload_json(const struct import_params *p, const char *csv, size_t len, struct buf *body,
		 struct buf *err);

#endif
