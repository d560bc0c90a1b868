#include "config.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "commerce/payload.h"
#include "testutil.h"

static const char batch[] = "source_code,sku,quantity,status\ndefault,AB-1,3,1\n"
			    "default,\"A,B\", 1.5 ,0\n";

static void gunzip(const unsigned char *in, size_t len, struct buf *out)
{
	z_stream z;
	char block[4096];
	int rc;

	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK); /* gzip only */
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	do {
		z.next_out = (Bytef *)block;
		z.avail_out = sizeof(block);
		rc = inflate(&z, Z_NO_FLUSH);
		buf_add(out, block, sizeof(block) - z.avail_out);
	} while (rc == Z_OK);
	assert_int_equal(rc, Z_STREAM_END);
	inflateEnd(&z);
}

static void test_csv_body_is_gzip_base64_of_the_batch(void **state)
{
	struct import_params p = { "stock_sources", "append", 1, 100 };
	struct buf body = BUF_INIT(BUF_NOCAP), err = BUF_INIT(BUF_NOCAP), csv = BUF_INIT(BUF_NOCAP);
	json_t *j, *src;
	const char *b64;
	unsigned char *raw;
	int n;

	(void)state;
	assert_int_equal(payload_csv(&p, batch, sizeof(batch) - 1, &body, &err), 0);
	j = json_loads(buf_cstr(&body), 0, NULL);
	assert_non_null(j);
	src = json_object_get(j, "source");
	assert_string_equal(json_string_value(json_object_get(src, "entity")), "stock_sources");
	assert_string_equal(json_string_value(json_object_get(src, "behavior")), "append");
	assert_string_equal(json_string_value(json_object_get(src, "validationStrategy")),
			    "validation-skip-errors");
	assert_string_equal(json_string_value(json_object_get(src, "allowedErrorCount")), "100");
	assert_string_equal(json_string_value(json_object_get(src, "importFieldSeparator")), ",");
	b64 = json_string_value(json_object_get(src, "csvData"));
	raw = malloc(strlen(b64));
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64));
	assert_true(n > 2);
	assert_int_equal(raw[0], 0x1f); /* the gzip magic Commerce looks for */
	assert_int_equal(raw[1], 0x8b);
	/* EVP_DecodeBlock counts padding as zero bytes: gzip's trailer tells the real end */
	gunzip(raw, (size_t)n, &csv);
	assert_string_equal(buf_cstr(&csv), batch);
	free(raw);
	json_decref(j);
	buf_release(&body);
	buf_release(&err);
	buf_release(&csv);
}

static void test_json_body_has_items_keyed_by_header(void **state)
{
	struct import_params p = { "stock_sources", "append", 0, 0 };
	struct buf body = BUF_INIT(BUF_NOCAP), err = BUF_INIT(BUF_NOCAP);
	json_t *j, *items;

	(void)state;
	assert_int_equal(payload_json(&p, batch, sizeof(batch) - 1, &body, &err), 0);
	j = json_loads(buf_cstr(&body), 0, NULL);
	items = json_object_get(json_object_get(j, "source"), "items");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "sku")), "A,B");
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "quantity")),
			    " 1.5 ");
	assert_null(json_object_get(json_object_get(j, "source"), "csvData"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "source"),
							       "validationStrategy")),
			    "validation-stop-on-errors");
	json_decref(j);
	buf_release(&body);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_body_is_gzip_base64_of_the_batch),
		cmocka_unit_test(test_json_body_has_items_keyed_by_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
