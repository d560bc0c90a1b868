#include "config.h"

#include "lib/conf.h"
#include "lib/loadconf.h"
#include "lib/pipeline.h"
#include "lib/xmlin.h"
#include "testconf.h"
#include "testutil.h"

#define HEAD "[commerce]\nurl = https://x\ntoken_file = /t\n[feed p]\ndir = in\nformat = xml\n" \
	     "entity = catalog_product\n"

static void test_config_checks_paths(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	assert_null(load(HEAD "record = Products/Product\nmap.sku = @sku\n", &err));
	assert_non_null(strstr(buf_cstr(&err), "is not a path of element names"));
	assert_null(load(HEAD "record = /Products/Product\nmap.sku = @sku[\n", &err));
	assert_non_null(strstr(buf_cstr(&err), "map.sku: '@sku[' is not an XPath"));
	assert_null(load(HEAD "record = /p:Products/p:Product\nmap.sku = @sku\n", &err));
	assert_non_null(strstr(buf_cstr(&err), "bind it with namespace.p = URI"));
	assert_null(load(HEAD "record = /Products/Product\n", &err));
	assert_non_null(strstr(buf_cstr(&err), "format = xml needs map.COLUMN keys"));
	buf_release(&err);
}

struct sink {
	struct buf rows, messages;
};

static int on_batch(void *ctx, const struct batch *b)
{
	struct sink *s = ctx;

	buf_add(&s->rows, b->csv, b->len);
	return 0;
}

static void on_problem(void *ctx, const struct problem *p)
{
	struct sink *s = ctx;

	buf_printf(&s->messages, "%lu %s %s\n", p->line, p->column, p->message);
}

static void on_message(void *ctx, const char *msg)
{
	struct sink *s = ctx;

	buf_printf(&s->messages, "%s\n", msg);
}

struct mem {
	const char *p;
	size_t left;
	size_t chunk;
};

static int read_mem(void *ctx, char *buf, int len)
{
	struct mem *m = ctx;
	size_t n = m->left < (size_t)len ? m->left : (size_t)len;

	if (n > m->chunk)
		n = m->chunk; /* a record cut across reads */
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (int)n;
}

static void test_records_become_rows(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\"?>\n<Products>\n"
		"  <Product sku=\"A-1\"><Name lang=\"de\">Mutter</Name><Name lang=\"en\">Nut</Name>\n"
		"    <Categories><Category>Hardware</Category><Category>Sale</Category></Categories>\n"
		"    <Description><![CDATA[<p>x & y</p>]]></Description></Product>\n"
		"  <Other><Product sku=\"NOT-A-RECORD\"/></Other>\n"
		"  <Product sku=\"A-2\"/>\n"
		"</Products>\n";
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(HEAD "record = /Products/Product\nmap.sku = @sku\n"
				   "map.name = Name[@lang='en']\nmap.categories = Categories/Category\n"
				   "map.description = Description\n",
			      &err);
	struct sink s = { BUF_INIT(BUF_NOCAP), BUF_INIT(BUF_NOCAP) };
	struct pipeline_sink sk = { on_batch, on_problem, on_message, &s };
	struct pipeline_limits lim;
	struct pipeline_result res;
	struct pipeline *p;

	(void)state;
	assert_non_null(c);
	for (size_t chunk = 1; chunk <= 4096; chunk *= 16) {
		struct mem m = { doc, sizeof(doc) - 1, chunk };
		buf_reset(&s.rows);
		buf_reset(&s.messages);
		pipeline_default_limits(&lim);
		p = pipeline_new(conf_feed(c, "p"), &lim, &sk);
		xmlin_run(p, conf_feed(c, "p"), read_mem, &m, "doc.xml");
		pipeline_finish(p, &res);
		pipeline_free(p);
		assert_int_equal(res.state, PIPE_VALID);
		assert_int_equal(res.rows, 2);
		assert_string_equal(buf_cstr(&s.rows),
				    "sku,name,categories,description\n"
				    "A-1,Nut,\"Hardware,Sale\",<p>x & y</p>\n"
				    "A-2,,,\n");
	}
	conf_free(c);
	buf_release(&err);
	buf_release(&s.rows);
	buf_release(&s.messages);
}

static void test_cdata_that_is_not_utf8_rejects_the_file(void **state)
{
	/* libxml2 refuses the overlong C1 AE in text; in CDATA it let it through */
	static const char doc[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Products>\n"
				  "  <Product sku=\"A-1\"><Description>fine</Description></Product>\n"
				  "  <Product sku=\"A-2\">\n"
				  "    <Description><![CDATA[\xc1\xae bad]]></Description></Product>\n"
				  "</Products>\n";
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(HEAD "record = /Products/Product\nmap.sku = @sku\n"
				   "map.description = Description\n",
			      &err);
	struct sink s = { BUF_INIT(BUF_NOCAP), BUF_INIT(BUF_NOCAP) };
	struct pipeline_sink sk = { on_batch, on_problem, on_message, &s };
	struct mem m = { doc, sizeof(doc) - 1, 4096 };
	struct pipeline_limits lim;
	struct pipeline_result res;
	struct pipeline *p;

	(void)state;
	assert_non_null(c);
	pipeline_default_limits(&lim);
	p = pipeline_new(conf_feed(c, "p"), &lim, &sk);
	xmlin_run(p, conf_feed(c, "p"), read_mem, &m, "doc.xml");
	pipeline_finish(p, &res);
	pipeline_free(p);
	assert_int_equal(res.state, PIPE_REJECTED);
	assert_int_equal(res.batches, 0);
	assert_string_equal(buf_cstr(&s.rows), "");
	assert_non_null(strstr(buf_cstr(&s.messages),
			       "line 4: not well-formed XML: the text of 'Description' is not valid "
			       "UTF-8"));
	conf_free(c);
	buf_release(&err);
	buf_release(&s.rows);
	buf_release(&s.messages);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_checks_paths),
		cmocka_unit_test(test_records_become_rows),
		cmocka_unit_test(test_cdata_that_is_not_utf8_rejects_the_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
