/*
 * open_here: a ledger in the test's own directory (testutil.h's tmpdir_setup).
 * With DROPGATE_TEST_PG set (the conninfo of a test server's "postgres"
 * database, as tests/run-suite's second pass gives it) the ledger is instead a
 * PostgreSQL database of the test's own, named after its directory: the same
 * tests run on the second backend.
 */
#ifndef DG_TESTLEDGER_H
#define DG_TESTLEDGER_H

#include <libpq-fe.h>
#include <stdlib.h>

#include "queue/ledger.h"
#include "testutil.h"

/* test_ledger_location: where open_here's ledger is (a PostgreSQL database is made once) */
static inline void test_ledger_location(char *out, size_t size)
{
	const char *pg = getenv("DROPGATE_TEST_PG");
	const char *name = strrchr(test_dir, '.') + 1; /* mkdtemp's letters: one per test */
	char sql[128];
	PGconn *c;

	if (pg == NULL || *pg == '\0') {
		snprintf(out, size, "%s/ledger.db", test_dir);
		return;
	}
	c = PQconnectdb(pg);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"t_%s\"", name);
	PQclear(PQexec(c, sql)); /* the second open finds it made */
	PQfinish(c);
	/* a keyword given twice: libpq takes the last */
	snprintf(out, size, "%s dbname=t_%s", pg, name);
}

static inline struct ledger *open_here(void)
{
	char location[512];
	struct buf err = BUF_INIT(4096);
	struct ledger *l;

	test_ledger_location(location, sizeof(location));
	l = ledger_open(location, &err);
	if (l == NULL)
		fprintf(stderr, "%s\n", buf_cstr(&err));
	assert_non_null(l);
	buf_release(&err);
	return l;
}

#endif
