/*
 * strlist - a list of owned strings.
 */
#ifndef DG_STRLIST_H
#define DG_STRLIST_H

#include <stddef.h>

struct strlist {
	char **v;
	size_t n;
};

#define STRLIST_INIT { NULL, 0 }

void strlist_push(struct strlist *l, const char *s);
void strlist_clear(struct strlist *l);
/* strlist_split: push each word of s, words separated by blanks or commas. */
void strlist_split(struct strlist *l, const char *s);
int strlist_has(const struct strlist *l, const char *s);
/* strlist_remove: drop one s (order is not kept); 1 if it was there. */
int strlist_remove(struct strlist *l, const char *s);
/* strlist_match: does name match one of the fnmatch(3) patterns? */
int strlist_match(const struct strlist *patterns, const char *name);

#endif
