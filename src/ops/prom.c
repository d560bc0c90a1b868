#include "config.h"

#include <math.h>
#include <stdarg.h>

#include "ops/prom.h"

void prom_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label_value: backslash, double quote and newline escaped, as the format asks */
static void label_value(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_printf(out, "\\%c", *v);
		else if (*v == '\n')
			buf_addstr(out, "\\n");
		else
			buf_addch(out, *v);
	}
}

void prom_sample(struct buf *out, const char *name, double value, int nlabels, ...)
{
	va_list ap;

	buf_addstr(out, name);
	va_start(ap, nlabels);
	for (int i = 0; i < nlabels; i++) {
		const char *k = va_arg(ap, const char *), *v = va_arg(ap, const char *);
		buf_printf(out, "%s%s=\"", i ? "," : "{", k);
		label_value(out, v);
		buf_addch(out, '"');
	}
	va_end(ap);
	if (nlabels)
		buf_addch(out, '}');
	if (isnan(value))
		buf_addstr(out, " NaN\n");
	else if (value == (double)(long long)value && fabs(value) < 9e15)
		buf_printf(out, " %lld\n", (long long)value);
	else
		buf_printf(out, " %.17g\n", value);
}
