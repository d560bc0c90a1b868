#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/conf_value.h"

struct word {
	const char *name;
	int value;
};

int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K':
	case 'k':
		mul = 1024ULL;
		end++;
		break;
	case 'M':
	case 'm':
		mul = 1024ULL * 1024;
		end++;
		break;
	case 'G':
	case 'g':
		mul = 1024ULL * 1024 * 1024;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > ULLONG_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int parse_duration(const char *s, unsigned long *seconds)
{
	char *end;
	unsigned long v, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 's':
		mul = 1;
		end++;
		break;
	case 'm':
		mul = 60;
		end++;
		break;
	case 'h':
		mul = 3600;
		end++;
		break;
	case 'd':
		mul = 86400;
		end++;
		break;
	default:
		break;
	}
	if (*end || v > ULONG_MAX / mul)
		return -1;
	*seconds = v * mul;
	return 0;
}

int parse_duration_ms(const char *s, unsigned long *ms)
{
	size_t n = strlen(s);
	unsigned long v;

	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		char *end;
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end != s + n - 2)
			return -1;
		*ms = v;
		return 0;
	}
	if (parse_duration(s, &v) < 0 || v > ULONG_MAX / 1000)
		return -1;
	*ms = v * 1000;
	return 0;
}

int parse_bool(const char *s, int *out)
{
	static const struct word words[] = {{"yes", 1},	  {"no", 0}, {"true", 1},
					    {"false", 0}, {"on", 1}, {"off", 0},
					    {"1", 1},	  {"0", 0},  {NULL, 0}};

	for (const struct word *w = words; w->name; w++)
		if (strcasecmp(s, w->name) == 0) {
			*out = w->value;
			return 0;
		}
	return -1;
}

int parse_char(const char *s, char *out)
{
	static const struct word words[] = {
	    {"comma", ','}, {"semicolon", ';'}, {"tab", '\t'}, {"pipe", '|'}, {NULL, 0}};
	size_t n = strlen(s);

	for (const struct word *w = words; w->name; w++)
		if (strcmp(s, w->name) == 0) {
			*out = (char)w->value;
			return 0;
		}
	if (n == 1 && s[0] != ';' && s[0] != '"') {
		*out = s[0];
		return 0;
	}
	if (n == 3 && s[0] == '"' && s[2] == '"' && s[1] != '\\') {
		*out = s[1];
		return 0;
	}
	if (n == 4 && s[0] == '"' && s[1] == '\\' && s[3] == '"') {
		switch (s[2]) {
		case 't':
			*out = '\t';
			return 0;
		case '"':
			*out = '"';
			return 0;
		case '\\':
			*out = '\\';
			return 0;
		case '\'':
			*out = '\'';
			return 0;
		default:
			return -1;
		}
	}
	return -1;
}
