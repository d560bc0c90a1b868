/* open_here: a ledger in the test's own directory (testutil.h's tmpdir_setup). */
#ifndef DG_TESTLEDGER_H
#define DG_TESTLEDGER_H

#include "queue/ledger.h"
#include "testutil.h"

static inline struct ledger *open_here(void)
{
	char path[128];
	struct buf err = BUF_INIT(4096);
	struct ledger *l;

	snprintf(path, sizeof(path), "%s/ledger.db", test_dir);
	l = ledger_open(path, &err);
	assert_non_null(l);
	buf_release(&err);
	return l;
}

#endif
