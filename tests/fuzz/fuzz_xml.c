/*
 * fuzz_xml - partner XML through xmlin: libxml2's reader with our options,
 * the record path, the XPath sources, the schema check, into the pipeline.
 *
 * Input: byte 0 = feed (bits 0-1: the PIM's products, namespaces, a schema,
 * row problems), read size (bits 2-4); the rest is the document.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/conf.h"
#include "lib/loadconf.h"
#include "lib/pipeline.h"
#include "lib/xmlin.h"
#include "util/buf.h"

static char dir[] = "/tmp/dropgate-fuzz-xml-XXXXXX";
static struct conf *conf;
static const struct feed *feeds[4];
static volatile size_t sink_bytes;

static const char xsd[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n"
	"<xs:element name=\"Products\"><xs:complexType><xs:sequence>\n"
	"<xs:element name=\"Product\" maxOccurs=\"unbounded\"><xs:complexType><xs:sequence>\n"
	"<xs:element name=\"Name\" maxOccurs=\"unbounded\"><xs:complexType><xs:simpleContent>\n"
	"<xs:extension base=\"xs:string\"><xs:attribute name=\"lang\" type=\"xs:string\"/>\n"
	"</xs:extension></xs:simpleContent></xs:complexType></xs:element>\n"
	"</xs:sequence><xs:attribute name=\"sku\" type=\"xs:string\" use=\"required\"/>\n"
	"</xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>\n"
	"</xs:schema>\n";

/* The feeds of tests/conf/test.conf and tests/cases/xml-namespaces. */
static const char conf_text[] =
	"[commerce]\nurl = http://127.0.0.1:1\ntoken_file = token\n"
	"[feed products]\ndir = in/p\nformat = xml\nrecord = /Products/Product\n"
	"entity = catalog_product\nvalidation = skip-errors\nallowed_errors = 10\n"
	"map.sku = @sku | trim | upper | required\nmap.name = Name[@lang='en'] | trim\n"
	"map.description = Description\nmap.categories = Categories/Category\n"
	"map.price = Prices/Price[@currency='EUR'] | number(\".\")\n"
	"map.weight = Weight | number(\".\")\nmap.product_websites = Websites | trim\n"
	"map.product_type = @type\nmap.attribute_set_code = @set\n"
	"[feed pim]\ndir = in/pim\nformat = xml\nnamespace.pim = urn:example:pim\n"
	"namespace.x = urn:example:extra\nrecord = /pim:Catalog/pim:Item\n"
	"entity = catalog_product\nmap.sku = @pim:sku\nmap.name = pim:Title[@xml:lang='en']\n"
	"map.price = x:Price[@cur='EUR'] | number(\".\")\n"
	"[feed schema]\ndir = in/s\nformat = xml\nrecord = /Products/Product\n"
	"schema = products.xsd\nentity = catalog_product\nmap.sku = @sku\n"
	"map.name = Name[@lang='en']\n"
	"[feed rows]\ndir = in/r\nformat = xml\nrecord = /Products/Product\n"
	"entity = catalog_product\nvalidation = skip-errors\nallowed_errors = 5\n"
	"map.sku = @sku\nmap.name = Name[@lang='en']\nmap.product_type = @type\n"
	"map.price = Prices/Price[@currency='EUR']\n";

static void write_in_dir(const char *name, const char *text)
{
	char path[sizeof(dir) + 32];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[4] = { "products", "pim", "schema", "rows" };
	struct buf err = BUF_INIT(BUF_NOCAP);
	char path[sizeof(dir) + 32];

	(void)argc, (void)argv;
	fuzz_quiet();
	fuzz_dir(dir);
	write_in_dir("products.xsd", xsd);
	write_in_dir("dropgate.conf", conf_text);
	snprintf(path, sizeof(path), "%s/dropgate.conf", dir);
	conf = conf_load(path, &err);
	for (int i = 0; conf && i < 4; i++)
		if ((feeds[i] = conf_feed(conf, names[i])) == NULL)
			conf = NULL;
	if (conf == NULL) {
		fprintf(stderr, "fuzz_xml: %s\n", buf_cstr(&err));
		abort();
	}
	buf_release(&err);
	return 0;
}

struct reader {
	struct fuzz_in in;
	size_t block;
};

static int read_doc(void *ctx, char *buf, int len)
{
	struct reader *r = ctx;
	size_t n = r->in.n < r->block ? r->in.n : r->block;

	if (n > (size_t)len)
		n = (size_t)len;
	memcpy(buf, r->in.p, n);
	r->in.p += n, r->in.n -= n;
	return (int)n;
}

static int on_batch(void *ctx, const struct batch *b)
{
	(void)ctx;
	fuzz_check_batch(b);
	for (size_t i = 0; i < b->len; i++)
		sink_bytes += (unsigned char)b->csv[i];
	return 0;
}

static void on_problem(void *ctx, const struct problem *p)
{
	(void)ctx;
	sink_bytes += strlen(p->column) + p->value.len + strlen(p->message);
	for (size_t i = 0; i < p->value.len; i++)
		sink_bytes += (unsigned char)p->value.p[i];
}

static void on_message(void *ctx, const char *msg)
{
	(void)ctx;
	sink_bytes += strlen(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned opt = fuzz_take(&in);
	struct reader r = { in, (size_t)1 << (((opt >> 2) & 7) * 2) }; /* 1 byte to 16 KiB */
	struct pipeline_sink sink = { on_batch, on_problem, on_message, NULL };
	struct pipeline_limits lim;
	struct pipeline_result res;
	struct pipeline *p;

	pipeline_default_limits(&lim);
	lim.batch_rows = 4;
	p = pipeline_new(feeds[opt & 3], &lim, &sink);
	xmlin_run(p, feeds[opt & 3], read_doc, &r, "fuzz.xml");
	pipeline_finish(p, &res);
	if (res.rows_ok + res.rows_rejected > res.rows)
		abort();
	pipeline_free(p);
	return 0;
}
