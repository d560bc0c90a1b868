#include "config.h"

#include "outcome/outcome.h"

enum file_outcome file_outcome(const struct feed *f, unsigned long rejected, int refused,
			       int exceeded)
{
	if (refused || exceeded || rejected > feed_allowance(f))
		return OUTCOME_REJECTED;
	return rejected ? OUTCOME_PARTIAL : OUTCOME_DONE;
}
