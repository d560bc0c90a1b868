/*
 * fuzz_mapping - mapping expressions compiled and applied: the expression
 * parser, every filter, binding to a header and the row path.
 *
 * Input: byte 0 = header holds positions (bit 0); then lines: up to four
 * expressions (columns c0..c3) ending at an empty line, the header (fields
 * split at '\t'), then rows (split at '\t'). An expression with '/' is
 * left out: lookup(FILE) would read any file of the machine; lookup files are
 * names in a directory holding countries.csv.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/mapping.h"
#include "util/buf.h"

#define MAX_EXPRS 4
#define MAX_FIELDS 64

static char basedir[] = "/tmp/dropgate-fuzz-mapping-XXXXXX";
static volatile size_t sink_bytes;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char table[] = "deutschland,DE\n\xc3\xb6sterreich,AT\nschweiz,CH\n\"a,b\",\"x\"\"y\"\n";
	char path[sizeof(basedir) + 32];
	FILE *fp;

	(void)argc, (void)argv;
	fuzz_quiet();
	fuzz_dir(basedir);
	snprintf(path, sizeof(path), "%s/countries.csv", basedir);
	fp = fopen(path, "w");
	if (fp == NULL || fwrite(table, 1, sizeof(table) - 1, fp) != sizeof(table) - 1 || fclose(fp))
		abort();
	return 0;
}

/* next_line: the next line of in, NUL-terminated in a copy; NULL at the end. */
static char *next_line(struct fuzz_in *in)
{
	const uint8_t *nl = memchr(in->p, '\n', in->n);
	size_t len = nl ? (size_t)(nl - in->p) : in->n;
	char *s;

	if (in->n == 0)
		return NULL;
	s = malloc(len + 1);
	memcpy(s, in->p, len);
	s[len] = '\0';
	in->p += nl ? len + 1 : len;
	in->n -= nl ? len + 1 : len;
	return s;
}

/* split: s at '\t' into at most MAX_FIELDS views (the bytes after a NUL are kept). */
static size_t split(const char *s, size_t len, struct strview *out)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len && n < MAX_FIELDS; i++)
		if (i == len || s[i] == '\t') {
			out[n].p = s + start;
			out[n].len = i - start;
			n++;
			start = i + 1;
		}
	return n;
}

static void on_problem(void *ctx, size_t column, const char *source, struct strview value,
		       const char *message)
{
	(void)ctx;
	sink_bytes += column + strlen(message) + value.len + (source ? strlen(source) : 0);
}

static void apply_rows(const struct mapping *m, struct fuzz_in *in, int numbers)
{
	struct strview header[MAX_FIELDS], fields[MAX_FIELDS];
	struct buf err = BUF_INIT(BUF_NOCAP);
	int srcidx[MAX_EXPRS];
	struct map_row row;
	char *line = next_line(in);
	size_t n;

	if (line == NULL)
		return;
	n = split(line, strlen(line), header);
	if (mapping_bind(m, header, n, numbers, srcidx, &err) == 0) {
		map_row_init(&row, 4096);
		for (char *r; (r = next_line(in)) != NULL; free(r)) {
			size_t nf = split(r, strlen(r), fields);
			if (mapping_apply(m, srcidx, fields, nf, &row, on_problem, NULL) == 0)
				for (size_t i = 0; i < row.n; i++)
					for (size_t k = 0; k < row.values[i].len; k++)
						sink_bytes += (unsigned char)row.values[i].p[k];
		}
		map_row_release(&row);
	}
	free(line);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	int numbers = fuzz_take(&in) & 1;
	struct mapping *m;
	struct buf err = BUF_INIT(BUF_NOCAP);
	size_t nexpr = 0;
	char *e;

	m = mapping_new();
	while ((e = next_line(&in)) != NULL && *e && nexpr < MAX_EXPRS) {
		char column[8];
		snprintf(column, sizeof(column), "c%zu", nexpr++);
		buf_reset(&err);
		if (strchr(e, '/') == NULL)
			mapping_add(m, column, e, basedir, NULL, &err);
		free(e);
	}
	free(e);
	if (mapping_count(m) > 0)
		apply_rows(m, &in, numbers);
	for (size_t i = 0; i < mapping_count(m); i++)
		sink_bytes += strlen(mapping_column(m, i)) +
			      (mapping_source(m, i) ? strlen(mapping_source(m, i)) : 0);
	mapping_free(m);
	buf_release(&err);
	return 0;
}
