#include "config.h"

#include <jansson.h>
#include <stdio.h>

#include "queue/keys.h"
#include "sift/counts.h"

struct gather {
	json_t *targets;
	long long all[KC_N];
};

static void key_of(int k, char *out, size_t size)
{
	snprintf(out, size, "rows_%s", keys_count_names[k]);
}

static void add(void *ctx, const char *target, const long long n[KC_N])
{
	struct gather *g = ctx;
	json_t *o = json_object();

	for (int k = 0; k < KC_N; k++) {
		char name[32];
		key_of(k, name, sizeof(name));
		json_object_set_new(o, name, json_integer(n[k]));
		g->all[k] += n[k];
	}
	json_object_set_new(g->targets, target, o);
}

json_t *counts_json(struct ledger *l, long long file_id)
{
	struct gather g = {json_object(), {0}};
	json_t *o;

	keys_counts_each(l, file_id, add, &g);
	if (json_object_size(g.targets) == 0) {
		json_decref(g.targets);
		return NULL;
	}
	o = json_object();
	for (int k = 0; k < KC_REJECTED; k++) { /* rows_rejected is the file's already */
		char name[32];
		key_of(k, name, sizeof(name));
		json_object_set_new(o, name, json_integer(g.all[k]));
	}
	json_object_set_new(o, "targets", g.targets);
	return o;
}
