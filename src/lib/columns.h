/*
 * columns - a file's header line, and what the pipeline keeps of it for the
 * rows: the partner's column names and, for each Commerce column, its name,
 * the partner column and field behind it, the entity's rule for it and
 * whether it is part of the row's key.
 *
 * The header's names must each be there, be valid in the file's encoding and
 * differ (with header = no the names are the positions "1", "2", ...). With
 * map.COLUMN keys the Commerce columns are the mapping's, bound to the header
 * (mapping_bind); without, they are the header's names, which must be the
 * entity's: every column it requires present, none it does not know.
 * Without a mapping, a later member of an archive must repeat the first
 * member's header; with one, each member's header is bound anew (its columns
 * may come in another order).
 *
 * Bad input: columns_take_header tells each thing wrong with the header as a
 * file message (reject.h) and returns -1; the caller rejects the file. It
 * allocates once per header, never per row, and reads nothing but the header.
 */
#ifndef DG_COLUMNS_H
#define DG_COLUMNS_H

#include <stddef.h>

#include "util/strview.h"

struct column_rule;
struct feed;
struct reject;

struct columns {
	size_t ncols;			  /* fields a row must have */
	char **header;			  /* the partner's column names (this member's) */
	size_t nout;			  /* Commerce columns */
	const char **out_names;		  /* Commerce column names */
	const char **out_source;	  /* partner column behind each, or NULL */
	int *out_src;			  /* partner field index behind each, -1: literal */
	const struct column_rule **rules; /* the entity's rule for each, or NULL */
	size_t *key_cols;		  /* the Commerce columns of the key */
	size_t nkey;
	int own_names; /* out_names are copies (no mapping) */
	int *srcidx;   /* mapping_bind's */
};

/*
 * columns_take_header: the header line (n names, on line) of a file or an
 * archive member. 1: the Commerce columns are set (the first header); 0: a
 * later member's header fits them; -1: the header is unusable (told to rj).
 * encoding names the file's encoding in messages.
 */
int columns_take_header(struct columns *c, const struct feed *f, const struct strview *names,
			size_t n, unsigned long line, const char *encoding, struct reject *rj);
void columns_release(struct columns *c);

/* columns_partner_name: the header's name of field i; "" past the header. */
static inline const char *columns_partner_name(const struct columns *c, size_t field)
{
	return field < c->ncols ? c->header[field] : "";
}

#endif
