#include "config.h"

#include <fcntl.h>

#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/loadconf.h"
#include "lib/mapping.h"
#include "testconf.h"
#include "testutil.h"
#include "util/xalloc.h"

#define COMMERCE "[commerce]\nurl = https://shop.example.com\ntoken_file = /etc/dropgate/token\n"

static void test_contract_example_parses(void **state)
{
	static const char ini[] =
		"[dropgate]\n"
		"spool = /srv/dropgate/spool      ; partner roots\n"
		"state = /var/lib/dropgate\n"
		"workers = 2\nlog = info\nkeep_days = 30\n\n"
		"[commerce]                       ; the default target\n"
		"url = https://shop.example.com\nstore = default\n"
		"token_file = /etc/dropgate/token ; integration token\n"
		"api = csv\nbatch_rows = 5000\nbatch_bytes = 4M\ntimeout = 120\nretries = 8\n"
		"verify_tls = yes\nca_file =\n\n"
		"[feed stock]\npartners = *\ndir = inbound/stock\nmatch = *.csv *.csv.gz *.zip\n"
		"format = csv\ndelimiter = \";\"\nquote = \"\\\"\"\nstrict = yes\n"
		"encoding = windows-1252\nheader = yes\ncomplete = close\norder = name\n"
		"mode = delta\nentity = stock_sources\nbehavior = append\n"
		"validation = skip-errors\nallowed_errors = 100\ntargets = default\n"
		"map.source_code = \"default\"\nmap.sku = ItemNo | trim | upper\n"
		"map.quantity = QtyOnHand | number(\",\", \".\")\n"
		"map.status = QtyOnHand | number(\",\", \".\") | instock\n";
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(ini, &err);
	const struct feed *f;
	const struct target *t;

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->spool, "/srv/dropgate/spool");
	assert_int_equal(c->workers, 2);
	t = conf_target(c, "default");
	assert_non_null(t);
	assert_int_equal(t->batch_bytes, 4 * 1024 * 1024);
	assert_null(t->ca_file);
	f = conf_feed(c, "stock");
	assert_non_null(f);
	assert_int_equal(f->delimiter, ';');
	assert_int_equal(f->quote, '"');
	assert_string_equal(f->encoding, "windows-1252");
	assert_int_equal(f->validation, VALIDATION_SKIP);
	assert_int_equal(f->allowed_errors, 100);
	assert_string_equal(f->entity->name, "stock_sources");
	assert_int_equal(f->match.n, 3);
	assert_non_null(f->map);
	assert_int_equal(mapping_count(f->map), 4);
	assert_string_equal(mapping_column(f->map, 1), "sku");
	assert_string_equal(mapping_source(f->map, 1), "ItemNo");
	assert_null(mapping_source(f->map, 0));
	conf_free(c);
	buf_release(&err);
}

static void test_defaults_are_the_contracts(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(COMMERCE "[feed f]\ndir = in\nentity = customer\n", &err);
	const struct feed *f;

	(void)state;
	assert_non_null(c);
	f = conf_feed(c, "f");
	assert_int_equal(f->delimiter, ',');
	assert_int_equal(f->quote, '"');
	assert_string_equal(f->encoding, "utf-8");
	assert_true(f->header);
	assert_true(f->strict);
	assert_int_equal(f->validation, VALIDATION_STOP);
	assert_int_equal(f->allowed_errors, 0);
	assert_string_equal(f->behavior, "add_update");
	assert_string_equal(f->targets.v[0], "default");
	assert_string_equal(f->match.v[0], "*");
	assert_null(f->map);
	assert_string_equal(c->state, "/var/lib/dropgate");
	conf_free(c);
	buf_release(&err);
}

/* Each bad configuration and the message that must name file, line and key. */
static const struct {
	const char *ini;
	const char *message;
} bad[] = {
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\nencodng = utf-8\n",
	  ":7: [feed f] unknown key 'encodng'" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\nencoding = latin9\n",
	  ":7: [feed f] encoding: unknown encoding 'latin9'" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\nheader = maybe\n",
	  ":7: [feed f] header: 'maybe' is not yes or no" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\ndelimiter = ;;\n",
	  ":7: [feed f] delimiter: the value is empty; a bare ; starts a comment" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\nquote = \"ab\"\n",
	  ":7: [feed f] quote: '\"ab\"' is not one character in double quotes" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\ndir = again\n",
	  ":7: [feed f] key 'dir' is given twice" },
	{ COMMERCE "[feed f]\ndir = in\nentity = widgets\n", ":6: [feed f] entity: unknown entity 'widgets'" },
	{ COMMERCE "[feed f]\nentity = customer\n", ":4: [feed f] dir is required" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\nbehavior = append\n",
	  ":4: [feed f] behavior 'append' is not one customer takes" },
	{ COMMERCE "[feed f]\ndir = in\nentity = stock_sources\nmap.colour = x\n",
	  ":7: [feed f] map.colour: stock_sources has no column 'colour'" },
	{ COMMERCE "[feed f]\ndir = in\nentity = stock_sources\nmap.source_code = \"d\"\n"
		   "map.sku = a | shout\n",
	  ":8: [feed f] map.sku: unknown filter 'shout'" },
	{ COMMERCE "[feed f]\ndir = in\nentity = stock_sources\nmap.sku = a\n",
	  "stock_sources needs the column 'source_code'" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\ntargets = erp2\n",
	  "[feed f] targets: no section [commerce erp2]" },
	{ COMMERCE "[feeds f]\ndir = in\n", ":4: unknown section [feeds f]" },
	{ COMMERCE "[commerce b]\nurl = ftp://x\ntoken_file = t\n",
	  "[commerce b] url 'ftp://x' must start with https://" },
	{ "[commerce]\nurl = https://x\n", "token_file, or username and password_file, is required" },
	{ COMMERCE "[dropgate]\nworkers = 0\n", ":5: [dropgate] workers: '0' is not a whole number from 1 to 64" },
	{ COMMERCE "[commerce]\nurl = https://y\ntoken_file = t\n", "[commerce] appears twice" },
	{ COMMERCE "[feed f]\ndir = in\nentity = customer\nmatch = "
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  ":7: line is 219 characters long; at most 197 are read" },
	{ COMMERCE "this is not ini\n", ":4: not a [section], key = value, or comment" },
	{ "dir = x\n" COMMERCE, ":1: key 'dir' comes before any [section]" },
};

static void test_bad_configs_name_file_line_and_key(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf *c = load(bad[i].ini, &err);
		if (c != NULL || strstr(buf_cstr(&err), bad[i].message) == NULL)
			fail_msg("case %zu: wanted '%s', got '%s'", i, bad[i].message,
				 buf_cstr(&err));
		assert_non_null(strstr(buf_cstr(&err), "/tmp/dropgate-test."));
	}
	buf_release(&err);
}

static void test_indented_keys_are_keys(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(COMMERCE "[feed f]\n    dir = in\n\tentity = customer\n"
				       "  delimiter = tab\n",
			      &err);

	(void)state;
	assert_non_null(c);
	assert_string_equal(conf_feed(c, "f")->dir, "in");
	assert_int_equal(conf_feed(c, "f")->delimiter, '\t');
	conf_free(c);
	buf_release(&err);
}

static void test_every_error_is_reported_not_only_the_first(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load(COMMERCE "[feed f]\ndir = in\nentity = customer\nstrict = perhaps\n"
				       "order = random\n",
			      &err);

	(void)state;
	assert_null(c);
	assert_non_null(strstr(buf_cstr(&err), ":7: [feed f] strict"));
	assert_non_null(strstr(buf_cstr(&err), ":8: [feed f] order: 'random' is not one of: name, mtime"));
	buf_release(&err);
}

/* the parser child is handed the text the daemon runs, never the file on disk */
static void test_text_is_kept_and_parsed_without_the_file(void **state)
{
	static const char ini[] = COMMERCE "[feed f]\ndir = in\nentity = stock_sources\n";
	struct buf err = BUF_INIT(4096);
	struct conf *c = load(ini, &err), *again;

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->textlen, strlen(ini));
	assert_string_equal(c->text, ini);
	/* the path names it and places relative paths; it is not opened (it does not exist) */
	again = conf_load_text("/nonexistent/dir/dropgate.conf", c->text, c->textlen, &err);
	assert_non_null(again);
	assert_non_null(conf_feed(again, "f"));
	assert_string_equal(again->path, "/nonexistent/dir/dropgate.conf");
	conf_free(again);
	again = conf_load_text("/nonexistent/dir/dropgate.conf", "[feed f]\nbogus = 1\n", 19, &err);
	assert_null(again);
	assert_non_null(strstr(buf_cstr(&err), "/nonexistent/dir/dropgate.conf:2:"));
	conf_free(c);
	buf_release(&err);
}

/* map_warehouse: the feed's source_code for warehouse "LAGER-01", through its lookup table */
static void map_warehouse(const struct conf *c, char *out, size_t size)
{
	const struct feed *f = conf_feed(c, "f");
	struct strview header[1] = { { "Warehouse", 9 } }, fields[1] = { { "LAGER-01", 8 } };
	struct buf err = BUF_INIT(4096);
	struct map_row row;
	int srcidx[2]; /* source_code, sku */

	assert_non_null(f);
	assert_int_equal(mapping_count(f->map), 2);
	assert_int_equal(mapping_bind(f->map, header, 1, 0, srcidx, &err), 0);
	map_row_init(&row, 4096);
	assert_int_equal(mapping_apply(f->map, srcidx, fields, 1, &row, NULL, NULL), 0);
	snprintf(out, size, "%.*s", (int)row.values[0].len, row.values[0].p);
	map_row_release(&row);
	buf_release(&err);
}

/* the parser child gets the lookup tables the daemon read, not what is on disk later */
static void test_snapshot_carries_the_lookup_tables_as_read(void **state)
{
	char *table = TMPFILE("LAGER-01,default\n"), *ini, *path, *snap = TMPFILE("");
	struct buf err = BUF_INIT(4096);
	struct conf *c, *again;
	char value[64];
	FILE *fp;
	int fd;

	(void)state;
	ini = xasprintf(COMMERCE "[feed f]\ndir = in\nentity = stock_sources\n"
				 "map.source_code = Warehouse | lookup(%s)\nmap.sku = \"x\"\n",
			table);
	path = TMPFILE(ini);
	c = conf_load(path, &err);
	assert_non_null(c);
	assert_int_equal(c->files.n, 1);
	assert_string_equal(c->files.v[0].data, "LAGER-01,default\n");
	fd = open(snap, O_RDWR | O_TRUNC);
	assert_int_equal(conf_snapshot_write(c, fd), 0);
	/* on disk now: another table, and no configuration at all */
	fp = fopen(table, "w");
	fputs("LAGER-01,east\n", fp);
	fclose(fp);
	unlink(path);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	again = conf_load_snapshot(fd, &err);
	assert_non_null(again);
	assert_string_equal(again->path, path);
	map_warehouse(again, value, sizeof(value));
	assert_string_equal(value, "default");
	conf_free(again);
	/* a snapshot cut short is refused whole */
	assert_int_equal(ftruncate(fd, lseek(fd, 0, SEEK_END) - 3), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	buf_reset(&err);
	assert_null(conf_load_snapshot(fd, &err));
	assert_non_null(strstr(buf_cstr(&err), "cut or malformed"));
	close(fd);
	conf_free(c);
	unlink(table);
	unlink(snap);
	free(table);
	free(snap);
	free(path);
	free(ini);
	buf_release(&err);
}

/* a check that refuses every feed it is asked about, naming it */
static int refuse_feed(const struct feed *f, struct buf *err)
{
	buf_printf(err, "the check refuses %s", f->name);
	return -1;
}

/* conf knows no parser: a feed check is asked at the feed's end, its error in the feed's place */
static void test_feed_check_reports_in_the_feed_s_place(void **state)
{
	static const char ini[] = COMMERCE "[feed f]\ndir = in\nentity = customer\nmap.email = e\n"
					   "map.firstname = f\nmap.lastname = l\nmap._website = w\n"
					   "[feed nomap]\ndir = in\nentity = customer\n"
					   "[feed g]\ndir = in\nentity = widgets\n";
	char *path = TMPFILE(ini);
	struct buf err = BUF_INIT(BUF_NOCAP);
	const char *asked, *later;
	struct conf *c;

	(void)state;
	c = conf_read(path, NULL, &err);
	assert_null(c);
	assert_null(strstr(buf_cstr(&err), "the check refuses"));
	buf_reset(&err);
	c = conf_read(path, refuse_feed, &err);
	assert_null(c);
	asked = strstr(buf_cstr(&err), ":4: [feed f] the check refuses f\n");
	later = strstr(buf_cstr(&err), ":16: [feed g] entity: unknown entity 'widgets'");
	assert_non_null(asked);
	assert_non_null(later);
	assert_true(asked < later);
	/* a feed without map. keys has no mapping to ask about */
	assert_null(strstr(buf_cstr(&err), "refuses nomap"));
	unlink(path);
	free(path);
	buf_release(&err);
}

/* a refused value leaves the key's default in place: the later checks see the default */
static void test_a_refused_value_keeps_the_default(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c = load("[commerce other]\nurl = https://x\ntoken_file = t\n"
			      "[feed f]\ndir = in\nentity = customer\ntargets =\n",
			      &err);

	(void)state;
	assert_null(c);
	assert_non_null(strstr(buf_cstr(&err), ":7: [feed f] targets: the list is empty\n"));
	assert_non_null(strstr(buf_cstr(&err), ":4: [feed f] targets: no section [commerce]\n"));
	buf_release(&err);
}

static void test_value_syntax(void **state)
{
	unsigned long long sz;
	unsigned long secs;
	int b;
	char ch;

	(void)state;
	assert_int_equal(parse_size("4M", &sz), 0);
	assert_int_equal(sz, 4194304);
	assert_int_equal(parse_size("512K", &sz), 0);
	assert_int_equal(sz, 524288);
	assert_int_equal(parse_size("1G", &sz), 0);
	assert_int_equal(sz, 1073741824);
	assert_int_equal(parse_size("100", &sz), 0);
	assert_int_equal(sz, 100);
	assert_int_equal(parse_size("4X", &sz), -1);
	assert_int_equal(parse_size("-1", &sz), -1);
	assert_int_equal(parse_duration("90s", &secs), 0);
	assert_int_equal(secs, 90);
	assert_int_equal(parse_duration("2m", &secs), 0);
	assert_int_equal(secs, 120);
	assert_int_equal(parse_duration("1d", &secs), 0);
	assert_int_equal(secs, 86400);
	assert_int_equal(parse_duration("120", &secs), 0);
	assert_int_equal(secs, 120);
	assert_int_equal(parse_duration("soon", &secs), -1);
	assert_int_equal(parse_bool("On", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(parse_bool("false", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(parse_bool("ja", &b), -1);
	assert_int_equal(parse_char("\";\"", &ch), 0);
	assert_int_equal(ch, ';');
	assert_int_equal(parse_char("\"\\t\"", &ch), 0);
	assert_int_equal(ch, '\t');
	assert_int_equal(parse_char("\"\\\"\"", &ch), 0);
	assert_int_equal(ch, '"');
	assert_int_equal(parse_char("pipe", &ch), 0);
	assert_int_equal(ch, '|');
	assert_int_equal(parse_char("|", &ch), 0);
	assert_int_equal(parse_char("\"ab\"", &ch), -1);
}

/* issue 15: the ledger's location and the node's name */
static void test_ledger_location_and_node(void **state)
{
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct conf *c;
	char host[256] = "";

	(void)state;
	c = load(COMMERCE, &err);
	assert_non_null(c);
	assert_null(c->ledger); /* <state>/ledger.db */
	gethostname(host, sizeof(host) - 1);
	assert_string_equal(c->node, host);
	conf_free(c);
	c = load("[dropgate]\nledger = postgresql://dropgate@db1/dropgate\nnode = gate-a\n" COMMERCE,
		 &err);
	assert_non_null(c);
	assert_string_equal(c->ledger, "postgresql://dropgate@db1/dropgate");
	assert_string_equal(c->node, "gate-a");
	conf_free(c);
	c = load("[dropgate]\nledger = host=db1 dbname=dropgate passfile=/etc/dropgate/pgpass\n" COMMERCE,
		 &err);
	assert_non_null(c);
	assert_string_equal(c->ledger, "host=db1 dbname=dropgate passfile=/etc/dropgate/pgpass");
	conf_free(c);
	assert_null(load("[dropgate]\nledger = postgresql://dropgate:secret@db1/dropgate\n" COMMERCE, &err));
	assert_non_null(strstr(buf_cstr(&err), ":2: [dropgate] ledger: the ledger's location carries a password"));
	assert_null(load("[dropgate]\nledger = host=db1 password=secret\n" COMMERCE, &err));
	assert_non_null(strstr(buf_cstr(&err), "PGPASSFILE"));
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_example_parses),
		cmocka_unit_test(test_defaults_are_the_contracts),
		cmocka_unit_test(test_ledger_location_and_node),
		cmocka_unit_test(test_bad_configs_name_file_line_and_key),
		cmocka_unit_test(test_indented_keys_are_keys),
		cmocka_unit_test(test_every_error_is_reported_not_only_the_first),
		cmocka_unit_test(test_value_syntax),
		cmocka_unit_test(test_text_is_kept_and_parsed_without_the_file),
		cmocka_unit_test(test_snapshot_carries_the_lookup_tables_as_read),
		cmocka_unit_test(test_feed_check_reports_in_the_feed_s_place),
		cmocka_unit_test(test_a_refused_value_keeps_the_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
