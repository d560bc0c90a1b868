/*
 * tell - a refusal of Commerce's told where the partner can act on it: its
 * "Row N" becomes the partner's line (member:line in archives), the column
 * and value when the message names a column (by its Commerce name, told as
 * the partner's), and rows refused without a word are told so. The rows
 * rejected in all are held to the feed's allowance (submit_allowed).
 */
#include "config.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "commerce/client.h"
#include "commerce/payload.h"
#include "lib/conf.h"
#include "lib/entity.h"
#include "lib/mapping.h"
#include "submit/tell.h"
#include "util/keyset.h"
#include "util/log.h"
#include "util/xalloc.h"

/* header_names: the batch's header, names NUL-separated. */
struct header_names {
	struct buf *names;
	size_t n;
};

static void header_cell(void *s, size_t len, void *ctx)
{
	struct header_names *h = ctx;

	buf_add(h->names, s, len);
	buf_addch(h->names, '\0');
	h->n++;
}

static int word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/*
 * column_in_message: the Commerce column a message is about: one it names in
 * quotes ('Value for "quantity" attribute ...'), else one it names as a word
 * ("Product with specified SKU not found"); -1 when it names none.
 */
static long column_in_message(const char *msg, const struct buf *header, size_t ncols)
{
	const char *q = msg;

	while ((q = strchr(q, '"')) != NULL) {
		const char *end = strchr(q + 1, '"');
		const char *name = header->data;
		if (end == NULL)
			break;
		for (size_t i = 0; i < ncols && name; i++, name += strlen(name) + 1)
			if ((size_t)(end - q - 1) == strlen(name) &&
			    strncmp(q + 1, name, strlen(name)) == 0)
				return (long)i;
		q = end + 1;
	}
	for (const char *w = msg; *w; w++) {
		const char *name = header->data;
		size_t n = 0;

		if (!word_char(*w) || (w > msg && word_char(w[-1])))
			continue;
		while (word_char(w[n]))
			n++;
		for (size_t i = 0; i < ncols && name; i++, name += strlen(name) + 1)
			if (n == strlen(name) && strncasecmp(w, name, n) == 0)
				return (long)i;
	}
	return -1;
}

struct cell_get {
	unsigned long want_row;
	long want_col;
	unsigned long row;
	long col;
	struct buf *out;
	int found;
};

static void get_cell(void *s, size_t len, void *ctx)
{
	struct cell_get *g = ctx;

	if (g->row == g->want_row && (g->col == g->want_col || g->want_col < 0)) {
		buf_add(g->out, s, len);
		if (g->want_col < 0)
			buf_addch(g->out, '\0');
		g->found = 1;
	}
	g->col++;
}

static void get_row(int c, void *ctx)
{
	struct cell_get *g = ctx;

	(void)c;
	g->row++;
	g->col = 0;
}

/* batch_cell: the value of column col (-1: every cell, NUL-separated) in data row row. */
static void batch_cell(const struct buf *csv, unsigned long row, long col, struct buf *out)
{
	struct cell_get g = {row, col, 0, 0, out, 0};
	struct csv_parser p;

	csv_init(&p, CSV_STRICT);
	csv_parse(&p, csv->data, csv->len, get_cell, get_row, &g);
	csv_fini(&p, get_cell, get_row, &g);
	csv_free(&p);
}

/*
 * quoted_value_column: the column whose value the message quotes (Source code
 * "warehouse_xx" does not exists); -1 when it quotes none of the row's values.
 */
static long quoted_value_column(const char *msg, const struct buf *cells, size_t ncols)
{
	for (const char *q = strchr(msg, '"'); q; q = strchr(q, '"')) {
		const char *end = strchr(q + 1, '"'), *cell = cells->data;
		size_t len;

		if (end == NULL)
			break;
		len = (size_t)(end - q - 1);
		for (size_t i = 0; i < ncols && cell && cell < cells->data + cells->len;
		     i++, cell += strlen(cell) + 1)
			if (len && strlen(cell) == len && strncmp(q + 1, cell, len) == 0)
				return (long)i;
		q = end + 1;
	}
	return -1;
}

void submit_tell_rows(struct submit_state *s, const struct target *t, const struct prepared *p,
		      const struct answer *a, const unsigned *map, size_t nmap)
{
	struct buf header = BUF_INIT(BUF_NOCAP), cells = BUF_INIT(BUF_NOCAP),
		   msg = BUF_INIT(BUF_NOCAP);
	struct header_names rp = {&header, 0};
	struct csv_parser parser;
	const char *nl = memchr(p->csv.data, '\n', p->csv.len);

	/* the batch's header: the Commerce column names */
	csv_init(&parser, CSV_STRICT);
	csv_parse(&parser, p->csv.data, nl ? (size_t)(nl - p->csv.data) : p->csv.len, header_cell,
		  NULL, &rp);
	csv_fini(&parser, header_cell, NULL, &rp);
	csv_free(&parser);
	for (size_t i = 0; i < a->nrows; i++) {
		const struct row_answer *ra = &a->rows[i];
		char line[4200];
		long col;
		const char *colname = "", *value = "";
		unsigned long row; /* 1-based row of the batch */

		if (ra->row == 0 || ra->row > nmap || map[ra->row - 1] >= p->rows) {
			buf_reset(&msg);
			buf_printf(&msg,
				   "Commerce (%s) named row %lu of a request of batch %u, which "
				   "carried %zu rows: %s",
				   t->name, ra->row, p->seq, nmap, ra->message);
			parcel_message(s->parcel, buf_cstr(&msg));
			continue;
		}
		row = map[ra->row - 1] + 1UL;
		parcel_line(s->parcel, p->origin[row - 1].member, p->origin[row - 1].line, line,
			    sizeof(line));
		buf_reset(&cells);
		batch_cell(&p->csv, row, -1, &cells);
		col = column_in_message(ra->message, &header, rp.n);
		if (col < 0)
			col = quoted_value_column(ra->message, &cells, rp.n);
		if (col >= 0) {
			const char *name = header.data;
			for (long k = 0; k < col; k++)
				name += strlen(name) + 1;
			colname = parcel_partner_column(s->parcel, name);
			value = cells.data;
			for (long k = 0; k < col && value < cells.data + cells.len; k++)
				value += strlen(value) + 1;
			if (value >= cells.data + cells.len)
				value = "";
		}
		buf_reset(&msg);
		buf_printf(&msg, "Commerce%s%s rejected the row: %s",
			   s->parcel->feed->targets.n > 1 ? " " : "",
			   s->parcel->feed->targets.n > 1 ? t->name : "", ra->message);
		parcel_problem(s->parcel, line, colname, value, strlen(value), buf_cstr(&msg));
		if (keyset_insert(&s->rejected_lines, line, strlen(line), 1) == 0)
			s->commerce_rejected++;
	}
	buf_release(&header);
	buf_release(&cells);
	buf_release(&msg);
}

void submit_tell_unnamed(struct submit_state *s, const struct target *t, const struct prepared *p,
			 unsigned row)
{
	char line[4200], msg[512];

	parcel_line(s->parcel, p->origin[row].member, p->origin[row].line, line, sizeof(line));
	snprintf(
	    msg, sizeof(msg),
	    "Commerce%s%s refused this row without saying why (Commerce before the release that "
	    "names rows)",
	    s->parcel->feed->targets.n > 1 ? " " : "",
	    s->parcel->feed->targets.n > 1 ? t->name : "");
	parcel_problem(s->parcel, line, "", "", 0, msg);
	if (keyset_insert(&s->rejected_lines, line, strlen(line), 1) == 0)
		s->commerce_rejected++;
}

unsigned long submit_allowed(const struct submit_state *s)
{
	return feed_allowance(s->parcel->feed);
}
