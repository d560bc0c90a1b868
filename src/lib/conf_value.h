/*
 * conf_value - the syntax of a configuration value, shared by the key parsers
 * and by anyone who reads a value written the same way (the tests, a command
 * line option). Each returns 0 with the value in *out, or -1 and leaves *out
 * alone; none of them reports why: the caller names the key.
 */
#ifndef DG_CONF_VALUE_H
#define DG_CONF_VALUE_H

/* parse_size: 512, 512K, 4M, 1G (powers of 1024), an optional trailing B. */
int parse_size(const char *s, unsigned long long *out);
/* parse_duration: seconds; 90, 90s, 2m, 1h, 1d. */
int parse_duration(const char *s, unsigned long *seconds);
/* parse_duration_ms: the same, in milliseconds, also taking "ms" (250ms). */
int parse_duration_ms(const char *s, unsigned long *ms);
/* parse_bool: yes/no, true/false, on/off, 1/0, in any case. */
int parse_bool(const char *s, int *out);
/* parse_char: `";"`, `"\t"`, or comma, semicolon, tab, pipe. */
int parse_char(const char *s, char *out);

#endif
