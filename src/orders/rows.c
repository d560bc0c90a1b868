/*
 * rows - an operation feed's parsed rows read back from the parcel's batches
 * (the columns the mapping made, each row with the partner's line), and
 * grouped into operations: one per order for ship, invoice and refund with
 * group_by = order (rows of one order, consecutive or not), one per company,
 * one per row otherwise.
 */
#include "config.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

#include "lib/feed.h"
#include "orders/opstate.h"
#include "parse/parcel.h"
#include "util/xalloc.h"

struct reader {
	struct op_table *tab;
	size_t col;
	int header; /* reading the batch's header */
	int first_batch;
	struct buf cells; /* this batch's cells, NUL-separated */
	size_t ncells;
};

static void on_cell(void *s, size_t len, void *ctx)
{
	struct reader *r = ctx;

	if (r->header) {
		if (r->first_batch) {
			char *name = xstrndup(s ? s : "", len);
			strlist_push(&r->tab->cols, name);
			free(name);
		}
		return;
	}
	buf_add(&r->cells, s ? s : "", len);
	buf_addch(&r->cells, '\0');
	r->ncells++;
}

static void on_row(int c, void *ctx)
{
	struct reader *r = ctx;

	(void)c;
	r->header = 0;
}

int op_table_read(struct op_table *tab, struct parcel *pc, struct buf *err)
{
	struct buf csv = BUF_INIT(BUF_NOCAP);
	struct batch_origin *origin = NULL;
	int rc = 0;

	memset(tab, 0, sizeof(*tab));
	for (unsigned seq = 1; seq <= pc->batches && rc == 0; seq++) {
		struct reader r = {tab, 0, 1, seq == 1, BUF_INIT(BUF_NOCAP), 0};
		struct csv_parser p;
		size_t rows, ncols, at;
		const char *c;

		if (parcel_read_batch(pc, seq, &csv, &origin, &rows, err) < 0) {
			rc = -1;
			break;
		}
		csv_init(&p, CSV_STRICT | CSV_APPEND_NULL);
		csv_parse(&p, csv.data, csv.len, on_cell, on_row, &r);
		csv_fini(&p, on_cell, on_row, &r);
		csv_free(&p);
		ncols = tab->cols.n;
		if (ncols == 0 || r.ncells != rows * ncols) {
			buf_printf(err, "batch %u does not hold %zu rows of %zu columns", seq, rows,
				   ncols);
			buf_release(&r.cells);
			rc = -1;
			break;
		}
		tab->cells = xrealloc(tab->cells, (tab->rows + rows) * ncols * sizeof(char *));
		tab->origin = xrealloc(tab->origin, (tab->rows + rows) * sizeof(*origin));
		memcpy(tab->origin + tab->rows, origin, rows * sizeof(*origin));
		c = r.cells.data;
		at = tab->rows * ncols;
		for (size_t i = 0; i < rows * ncols; i++, c += strlen(c) + 1)
			tab->cells[at + i] = xstrdup(c);
		tab->rows += rows;
		buf_release(&r.cells);
	}
	free(origin);
	buf_release(&csv);
	return rc;
}

void op_table_release(struct op_table *tab)
{
	for (size_t i = 0; i < tab->rows * tab->cols.n; i++)
		free(tab->cells[i]);
	free(tab->cells);
	free(tab->origin);
	strlist_clear(&tab->cols);
	memset(tab, 0, sizeof(*tab));
}

size_t op_column(const struct op_table *tab, const char *name)
{
	for (size_t i = 0; i < tab->cols.n; i++)
		if (strcmp(tab->cols.v[i], name) == 0)
			return i;
	return (size_t)-1;
}

const char *op_cell(const struct op_table *tab, size_t r, const char *name)
{
	size_t c = op_column(tab, name);

	return c == (size_t)-1 ? "" : tab->cells[r * tab->cols.n + c];
}

/* grouped: ship, invoice and refund rows of one order make one request */
static int grouped(const struct opctx *x)
{
	return x->f->group_by_order &&
	       (x->op->kind == OP_SHIP || x->op->kind == OP_INVOICE || x->op->kind == OP_REFUND);
}

struct slot {
	const char *key;
	size_t row;
};

/* by key, then by row: the rows of one key in file order */
static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int op_first_row_cmp(const void *a, const void *b)
{
	const struct op *x = a, *y = b;

	return (x->rows[0] > y->rows[0]) - (x->rows[0] < y->rows[0]);
}

void ops_group(struct opctx *x)
{
	struct op_table *tab = &x->tab;
	size_t keycol = op_column(tab, x->op->key);
	struct slot *slots = xcalloc(tab->rows + 1, sizeof(*slots));

	x->ops = xcalloc(tab->rows + 1, sizeof(*x->ops));
	x->nops = 0;
	for (size_t r = 0; r < tab->rows; r++) {
		slots[r].key = keycol == (size_t)-1 ? "" : tab->cells[r * tab->cols.n + keycol];
		slots[r].row = r;
	}
	if (grouped(x))
		qsort(slots, tab->rows, sizeof(*slots), slot_cmp);
	for (size_t i = 0; i < tab->rows;) {
		size_t j = i + 1;
		struct op *o = &x->ops[x->nops++];

		while (grouped(x) && j < tab->rows && strcmp(slots[j].key, slots[i].key) == 0)
			j++;
		o->key = slots[i].key;
		o->nrows = j - i;
		o->rows = xcalloc(o->nrows, sizeof(size_t));
		o->bad = xcalloc(o->nrows, 1);
		for (size_t k = i; k < j; k++)
			o->rows[k - i] = slots[k].row;
		i = j;
	}
	/* numbered in the order of their first rows: the same file, the same numbers */
	qsort(x->ops, x->nops, sizeof(*x->ops), op_first_row_cmp);
	for (size_t i = 0; i < x->nops; i++)
		x->ops[i].no = (unsigned)i;
	free(slots);
}

void ops_release(struct opctx *x)
{
	for (size_t i = 0; i < x->nops; i++) {
		struct op *o = &x->ops[i];
		free(o->rows);
		free(o->bad);
		json_decref(o->before);
		free(o->expect);
		json_decref(o->rejected);
		free(o->result);
		json_decref(o->found);
		json_decref(o->body);
		free(o->text);
	}
	free(x->ops);
	x->ops = NULL;
	x->nops = 0;
}
