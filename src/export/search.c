#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commerce/client.h"
#include "export/search.h"
#include "util/xalloc.h"

void json_text(struct buf *out, const json_t *v)
{
	if (json_is_string(v))
		buf_addstr(out, json_string_value(v));
	else if (json_is_integer(v))
		buf_printf(out, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		buf_printf(out, "%.10g", json_real_value(v));
	else if (json_is_array(v))
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				buf_addch(out, ' ');
			json_text(out, json_array_get(v, i));
		}
}

/* query_value: a date-time for a query string (a space becomes '+'). */
static void query_value(char *out, size_t size, const char *v)
{
	snprintf(out, size, "%s", v);
	for (char *s = out; *s; s++)
		if (*s == ' ')
			*s = '+';
}

/* search_route: the request for the first page past key (and before `before`, when given). */
static void search_route(struct buf *route, const char *resource, const char *field,
			 const char *idfield, const struct search_key *key, const char *before,
			 unsigned long page_size)
{
	char k[80], b[80];

	query_value(k, sizeof(k), key->t);
	buf_reset(route);
	buf_printf(route,
		   "%s?searchCriteria[filter_groups][0][filters][0][field]=%s"
		   "&searchCriteria[filter_groups][0][filters][0][value]=%s"
		   "&searchCriteria[filter_groups][0][filters][0][condition_type]=gteq"
		   "&searchCriteria[filter_groups][1][filters][0][field]=%s"
		   "&searchCriteria[filter_groups][1][filters][0][value]=%s"
		   "&searchCriteria[filter_groups][1][filters][0][condition_type]=gt"
		   "&searchCriteria[filter_groups][1][filters][1][field]=%s"
		   "&searchCriteria[filter_groups][1][filters][1][value]=%lld"
		   "&searchCriteria[filter_groups][1][filters][1][condition_type]=gt",
		   resource, field, k, field, k, idfield, key->id);
	if (before) {
		query_value(b, sizeof(b), before);
		buf_printf(route,
			   "&searchCriteria[filter_groups][2][filters][0][field]=%s"
			   "&searchCriteria[filter_groups][2][filters][0][value]=%s"
			   "&searchCriteria[filter_groups][2][filters][0][condition_type]=lt",
			   field, b);
	}
	buf_printf(route,
		   "&searchCriteria[sortOrders][0][field]=%s"
		   "&searchCriteria[sortOrders][0][direction]=ASC"
		   "&searchCriteria[sortOrders][1][field]=%s"
		   "&searchCriteria[sortOrders][1][direction]=ASC"
		   "&searchCriteria[pageSize]=%lu&searchCriteria[currentPage]=1",
		   field, idfield, page_size);
}

/*
 * take_items: each record of items past *key to each(), *key moving along;
 * *past counts them. 0, or -1 with err when each() fails.
 */
static int take_items(json_t *items, const char *resource, const char *field, const char *idfield,
		      struct search_key *key, int (*each)(void *ctx, const json_t *o), void *ctx,
		      size_t *past, struct buf *err)
{
	size_t i;
	json_t *o;

	json_array_foreach(items, i, o)
	{
		const char *v = json_string_value(json_object_get(o, field));
		long long id = (long long)json_integer_value(json_object_get(o, idfield));
		int cmp = v ? strcmp(v, key->t) : -1;

		if (v == NULL || !(cmp > 0 || (cmp == 0 && id > key->id)))
			continue; /* a page answered again, or not what was asked */
		if (each(ctx, o) < 0) {
			buf_printf(err, "cannot write the %s", resource);
			return -1;
		}
		snprintf(key->t, sizeof(key->t), "%s", v);
		key->id = id;
		(*past)++;
	}
	return 0;
}

int search_by_key(struct commerce_client *c, const char *resource, const char *field,
		  const char *idfield, struct search_key *key, const char *before,
		  unsigned long page_size, int (*each)(void *ctx, const json_t *o), void *ctx,
		  unsigned long *pages, struct buf *err)
{
	struct buf route = BUF_INIT(BUF_NOCAP), body = BUF_INIT(BUF_NOCAP);
	struct answer a;
	int rc = -1;

	answer_init(&a);
	for (;;) {
		json_t *page, *items;
		size_t n, past = 0;

		search_route(&route, resource, field, idfield, key, before, page_size);
		if (commerce_get(c, route.data, &a, &body) != ANSWER_DONE) {
			buf_printf(err, "Commerce (%s): %s", resource, buf_cstr(&a.message));
			goto out;
		}
		(*pages)++;
		page = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
		items = json_object_get(page, "items");
		if (!json_is_array(items)) {
			buf_printf(err, "Commerce's %s search answer has no items list", resource);
			json_decref(page);
			goto out;
		}
		n = json_array_size(items);
		if (take_items(items, resource, field, idfield, key, each, ctx, &past, err) < 0) {
			json_decref(page);
			goto out;
		}
		json_decref(page);
		if (past == 0 || n < page_size)
			break;
	}
	rc = 0;
out:
	answer_release(&a);
	buf_release(&route);
	buf_release(&body);
	return rc;
}
