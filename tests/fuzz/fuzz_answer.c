/*
 * fuzz_answer - Commerce's answers classified: an HTTP status and a body
 * (the 200 list of sentences, the error object with placeholders), then the
 * answer kept in the ledger and read back, which must give the same answer.
 *
 * Input: byte 0 = status (below 192: one of the statuses Commerce gives, else
 * the next two bytes as a number); the rest is the body.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "commerce/answer.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	return 0;
}

static void same_answer(const struct answer *a, const struct answer *b)
{
	if (a->cls != b->cls || a->http_status != b->http_status || a->processed != b->processed ||
	    a->has_processed != b->has_processed || a->nrows != b->nrows ||
	    strcmp(buf_cstr(&a->message), buf_cstr(&b->message)) != 0)
		abort();
	for (size_t i = 0; i < a->nrows; i++)
		if (a->rows[i].row != b->rows[i].row ||
		    strcmp(a->rows[i].message, b->rows[i].message) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 200, 200, 200, 400, 401, 403, 404, 429, 500, 502, 503 };
	struct fuzz_in in = { data, size };
	unsigned pick = fuzz_take(&in);
	long status;
	struct answer a, back;
	char *json;

	if (pick < 192) {
		status = statuses[pick % (sizeof(statuses) / sizeof(statuses[0]))];
	} else {
		status = (long)fuzz_take(&in) << 8;
		status |= (long)fuzz_take(&in);
	}
	answer_init(&a);
	answer_init(&back);
	answer_parse(&a, status, (const char *)in.p, in.n);
	json = answer_to_json(&a);
	if (json == NULL || answer_from_json(&back, json) < 0)
		abort();
	same_answer(&a, &back);
	free(json);
	answer_release(&a);
	answer_release(&back);
	return 0;
}
