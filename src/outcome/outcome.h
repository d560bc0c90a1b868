/*
 * outcome - a file's end, decided once: the same rule for `dropgate submit`
 * and the daemon, whoever found the problem (the file's own checks or
 * Commerce), across every batch and target.
 */
#ifndef DG_OUTCOME_H
#define DG_OUTCOME_H

#include "lib/feed.h"

enum file_outcome {
	OUTCOME_DONE,	  /* every row imported */
	OUTCOME_PARTIAL,  /* rows rejected, within the feed's allowance: the rest imported */
	OUTCOME_REJECTED, /* past the allowance, or Commerce refused a batch whole */
};

/*
 * file_outcome: from the rows rejected in all, whether Commerce refused a
 * batch whole (or could not be reached for good), and whether the sending
 * stopped because the allowance ran out.
 */
enum file_outcome file_outcome(const struct feed *f, unsigned long rejected, int refused,
			       int exceeded);

#endif
