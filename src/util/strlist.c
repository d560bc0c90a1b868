#include "config.h"

#include <stdlib.h>

#include <fnmatch.h>
#include <string.h>

#include "util/strlist.h"
#include "util/xalloc.h"

void strlist_push(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

void strlist_clear(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void strlist_split(struct strlist *l, const char *s)
{
	static const char seps[] = " \t,";

	for (;;) {
		size_t n;
		char *w;

		s += strspn(s, seps);
		if (*s == '\0')
			break;
		n = strcspn(s, seps);
		w = xstrndup(s, n);
		strlist_push(l, w);
		free(w);
		s += n;
	}
}

int strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

int strlist_match(const struct strlist *patterns, const char *name)
{
	for (size_t i = 0; i < patterns->n; i++)
		if (fnmatch(patterns->v[i], name, FNM_PERIOD) == 0)
			return 1;
	return 0;
}

int strlist_remove(struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
			return 1;
		}
	return 0;
}
