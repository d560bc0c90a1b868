/*
 * profile - where a file's time goes in the pipeline, by stage, when asked.
 *
 * Stages: decode (to UTF-8), csv (text to rows), map (mapping and filters),
 * rules (the entity's checks, field counts, encoding problems), keys (the
 * duplicate-key index), batch (Commerce CSV rows formatted into batches),
 * write (full batches handed to the sink, which writes them). Block-sized
 * work (decode, the CSV feed, each batch written) is timed whole; the per-row stages are timed on
 * one row in PROFILE_EVERY, stage by stage, and scaled to all rows, so that timing costs little
 * even when on. The clock's own cost, measured once at start, is taken off each reading. csv is
 * what the feed took less the rows' stages inside it.
 *
 * Off (the default), a profile is one flag tested a few times a row: nothing
 * is read from the clock. The pipeline owns one; pipeline_profile_start turns
 * it on, pipeline_profile_get reads it.
 */
#ifndef DG_PROFILE_H
#define DG_PROFILE_H

#include <stdint.h>
#include <time.h>

#define PROFILE_EVERY 16

enum profile_stage {
	PROF_DECODE,
	PROF_CSV,
	PROF_MAP,
	PROF_RULES,
	PROF_KEYS,
	PROF_BATCH,
	PROF_WRITE,
	PROF_STAGES
};

struct profile {
	int on;
	int timing;	    /* this row is one of the timed ones */
	unsigned countdown; /* rows until the next timed one */
	unsigned long rows, timed;
	uint64_t row_ns[PROF_STAGES]; /* of the timed rows */
	uint64_t decode_ns, feed_ns;  /* whole: every block */
	uint64_t flush_ns;	      /* batches handed to the sink, whole */
	uint64_t feed_flush_ns;	      /* the part of it inside the CSV feed */
	uint64_t flush_mark;	      /* flush_ns when the timed row began */
	uint64_t t;		      /* the last reading in a timed row */
	uint64_t clock_ns;	      /* what one reading of the clock costs */
};

/* The result: seconds a stage, over every row. */
struct profile_result {
	double seconds[PROF_STAGES];
	unsigned long rows, timed;
};

static inline uint64_t profile_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void profile_start(struct profile *pr);
const char *profile_stage_name(enum profile_stage s);
void profile_result(const struct profile *pr, struct profile_result *out);

/* profile_row_begin: a row starts; it is timed if its turn has come. */
static inline void profile_row_begin(struct profile *pr)
{
	if (!pr->on)
		return;
	pr->rows++;
	pr->timing = 0;
	if (--pr->countdown == 0) {
		pr->countdown = PROFILE_EVERY;
		pr->timing = 1;
		pr->timed++;
		pr->flush_mark = pr->flush_ns;
		pr->t = profile_now();
	}
}

/* profile_mark: the time since the last mark goes to stage s (timed rows only). */
static inline void profile_mark(struct profile *pr, enum profile_stage s)
{
	uint64_t now, d;

	if (!pr->timing)
		return;
	now = profile_now();
	d = now - pr->t;
	pr->row_ns[s] += d > pr->clock_ns ? d - pr->clock_ns : 0;
	pr->t = now;
}

/* profile_row_end: batches written during a timed row are counted whole, as write. */
static inline void profile_row_end(struct profile *pr)
{
	if (!pr->timing)
		return;
	if (pr->flush_ns > pr->flush_mark) {
		uint64_t f = pr->flush_ns - pr->flush_mark;
		pr->row_ns[PROF_BATCH] =
		    pr->row_ns[PROF_BATCH] > f ? pr->row_ns[PROF_BATCH] - f : 0;
	}
	pr->timing = 0;
}

#endif
