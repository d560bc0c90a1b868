#include "config.h"

#include <stdio.h>
#include <string.h>

#include "queue/states.h"

static const struct state_info states[] = {
    {ST_RECEIVED, STATE_IN_FLIGHT, "claimed, being moved into work/"},
    {ST_PROCESSING, STATE_IN_FLIGHT, "being parsed"},
    {ST_SUBMITTING, STATE_IN_FLIGHT, "being submitted to Commerce"},
    {ST_DEFERRED, STATE_IN_FLIGHT, "waiting for its next try"},
    {ST_DONE, STATE_FINAL | STATE_IMPORTED, "imported"},
    {ST_PARTIAL, STATE_FINAL | STATE_IMPORTED, "imported but for rejected rows"},
    {ST_FAILED, STATE_FINAL, "not imported"},
    {ST_DUPLICATE, STATE_FINAL, "the same bytes as a file already imported"},
    {ST_STALE, STATE_FINAL, "older than the full snapshot already imported"},
    {ST_REFUSED, STATE_FINAL, "not a file dropgate takes"},
};

#define NSTATES (sizeof(states) / sizeof(states[0]))

const struct state_info *state_info(const char *name)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (strcmp(states[i].name, name) == 0)
			return &states[i];
	return NULL;
}

int state_is(const char *name, unsigned flags)
{
	const struct state_info *s = state_info(name);

	return s && (s->flags & flags) == flags;
}

const char *state_sql_list(unsigned flags)
{
	/* built once per flag set the code uses; the table is constant */
	static __thread char lists[8][256];
	char *out = lists[flags & 7];

	if (out[0] == '\0') {
		size_t n = 0;
		for (size_t i = 0; i < NSTATES; i++)
			if ((states[i].flags & flags) == flags)
				n += (size_t)snprintf(out + n, sizeof(lists[0]) - n, "%s'%s'",
						      n ? "," : "", states[i].name);
	}
	return out;
}
