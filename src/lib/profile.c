#include "config.h"

#include <string.h>

#include "lib/profile.h"

static const char *const stage_names[PROF_STAGES] = {"decode", "csv",	"map",	"rules",
						     "keys",   "batch", "write"};

const char *profile_stage_name(enum profile_stage s)
{
	return stage_names[s];
}

void profile_start(struct profile *pr)
{
	uint64_t best = UINT64_MAX;

	memset(pr, 0, sizeof(*pr));
	/* what a reading costs: the least of a few back to back */
	for (int i = 0; i < 64; i++) {
		uint64_t a = profile_now(), b = profile_now();
		if (b - a < best)
			best = b - a;
	}
	pr->clock_ns = best;
	pr->countdown = PROFILE_EVERY;
	pr->on = 1;
}

void profile_result(const struct profile *pr, struct profile_result *out)
{
	double scale = pr->timed ? (double)pr->rows / (double)pr->timed : 0;
	double in_rows = 0, csv;

	memset(out, 0, sizeof(*out));
	out->rows = pr->rows;
	out->timed = pr->timed;
	for (int s = PROF_MAP; s <= PROF_BATCH; s++) {
		out->seconds[s] = (double)pr->row_ns[s] * scale / 1e9;
		in_rows += out->seconds[s];
	}
	out->seconds[PROF_DECODE] = (double)pr->decode_ns / 1e9;
	/* the feed's time holds the rows' stages and the batches written from them */
	csv = ((double)pr->feed_ns - (double)pr->feed_flush_ns) / 1e9 - in_rows;
	out->seconds[PROF_CSV] = csv > 0 ? csv : 0;
	out->seconds[PROF_WRITE] = (double)pr->flush_ns / 1e9;
}
