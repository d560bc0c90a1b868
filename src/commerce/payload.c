#include "config.h"

#include <csv.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "commerce/payload.h"
#include "util/xalloc.h"

int gzip_compress(const char *in, size_t len, struct buf *out)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip header and trailer, which Commerce detects */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	if (buf_reserve(out, deflateBound(&z, len)) < 0) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)(out->alloc - out->len - 1);
	rc = deflate(&z, Z_FINISH);
	out->len += z.total_out;
	out->data[out->len] = '\0';
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* params_object: the "source" fields both APIs share. */
static json_t *params_object(const struct import_params *p)
{
	char count[32];
	json_t *src = json_object();

	snprintf(count, sizeof(count), "%lu", p->allowed_errors);
	json_object_set_new(src, "entity", json_string(p->entity));
	json_object_set_new(src, "behavior", json_string(p->behavior));
	json_object_set_new(src, "validationStrategy",
			    json_string(p->skip_errors ? "validation-skip-errors"
						       : "validation-stop-on-errors"));
	json_object_set_new(src, "allowedErrorCount", json_string(count));
	json_object_set_new(src, "importFieldSeparator", json_string(","));
	json_object_set_new(src, "importMultipleValueSeparator", json_string(","));
	json_object_set_new(src, "importEmptyAttributeValueConstant", json_string("__EMPTY__VALUE__"));
	json_object_set_new(src, "importImagesFileDir", json_string("product_images"));
	return src;
}

static int dump(json_t *src, struct buf *body, struct buf *err)
{
	json_t *root = json_object();
	char *text;
	int rc = -1;

	json_object_set_new(root, "source", src);
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL || buf_addstr(body, text) < 0)
		buf_addstr(err, "the request body is larger than the buffer allows");
	else
		rc = 0;
	free(text);
	json_decref(root);
	return rc;
}

int payload_csv(const struct import_params *p, const char *csv, size_t len, struct buf *body,
		struct buf *err)
{
	struct buf gz = BUF_INIT(BUF_NOCAP);
	json_t *src;
	char *b64;
	int n, rc;

	if (gzip_compress(csv, len, &gz) < 0) {
		buf_addstr(err, "gzip compression failed");
		buf_release(&gz);
		return -1;
	}
	b64 = xmalloc(4 * ((gz.len + 2) / 3) + 1);
	n = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)gz.data, (int)gz.len);
	buf_release(&gz);
	src = params_object(p);
	json_object_set_new(src, "csvData", json_stringn_nocheck(b64, (size_t)n));
	free(b64);
	rc = dump(src, body, err);
	return rc;
}

struct items_ctx {
	json_t *items;
	json_t *header;
	json_t *row;
	size_t col;
	int in_header;
};

static void on_cell(void *s, size_t len, void *ctx)
{
	struct items_ctx *c = ctx;

	if (c->in_header) {
		json_array_append_new(c->header, json_stringn(s, len));
	} else {
		const char *key = json_string_value(json_array_get(c->header, c->col));
		if (c->row == NULL)
			c->row = json_object();
		if (key)
			json_object_set_new(c->row, key, json_stringn(s, len));
	}
	c->col++;
}

static void on_line(int ch, void *ctx)
{
	struct items_ctx *c = ctx;

	(void)ch;
	if (c->in_header)
		c->in_header = 0;
	else if (c->row)
		json_array_append_new(c->items, c->row);
	c->row = NULL;
	c->col = 0;
}

static int keep_blanks(unsigned char c)
{
	(void)c;
	return 0; /* values keep their blanks, as in the batch */
}

int payload_json(const struct import_params *p, const char *csv, size_t len, struct buf *body,
		 struct buf *err)
{
	struct items_ctx c = { json_array(), json_array(), NULL, 0, 1 };
	struct csv_parser parser;
	json_t *src;
	int rc = -1;

	/* our own batch: comma, RFC 4180, UTF-8, no surprises */
	csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
	csv_set_space_func(&parser, keep_blanks);
	if (csv_parse(&parser, csv, len, on_cell, on_line, &c) != len ||
	    csv_fini(&parser, on_cell, on_line, &c) != 0) {
		buf_addstr(err, "a batch could not be read back for the JSON API");
		json_decref(c.row);
		goto out;
	}
	src = params_object(p);
	json_object_set_new(src, "items", c.items);
	c.items = NULL;
	rc = dump(src, body, err);
out:
	csv_free(&parser);
	json_decref(c.items);
	json_decref(c.header);
	return rc;
}
