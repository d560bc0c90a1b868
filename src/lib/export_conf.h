/*
 * export_conf - one [export NAME] section: what leaves Commerce for which
 * partners, when and in what form, as conf read it (each key of conf_keys.c's
 * [export] table, its default when not given). src/export/ runs it.
 *
 * A plain struct: the configuration owns it and its strings and lists;
 * conf_free releases them.
 */
#ifndef DG_EXPORT_CONF_H
#define DG_EXPORT_CONF_H

#include "util/strlist.h"

enum export_kind { EXPORT_ORDERS, EXPORT_BI, EXPORT_STOCK };
enum export_format { EXPORT_CSV, EXPORT_XML, EXPORT_JSONL };

/* clang-format takes export for C++'s keyword and moves the
   brace; the struct is left as written, to the end of the file */
/* clang-format off */
struct export {
	char *name;
	enum export_kind kind;
	struct strlist partners;
	char *dir;               /* relative to each partner's root */
	unsigned long every;     /* seconds, 0: use at */
	int at_minutes;          /* minutes after local midnight, -1: use every */
	enum export_format format;
	char *target;
	unsigned long page_size;
	struct strlist entities; /* bi */
	int gzip;                /* compress = gzip */
	char *sequence;          /* stock: the sequence whose confirmed picture is copied */
	int line;                /* of its [section] header */
};

#endif
