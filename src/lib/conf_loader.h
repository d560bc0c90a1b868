/*
 * conf_loader - what the files of the conf module share, and nothing outside
 * it includes: the loader's state while one text is read, the key tables
 * (conf_keys.c) and the sections' beginnings and ends (conf_sections.c).
 *
 * conf.c reads lines and hands each key to the table of its section;
 * conf_keys.c holds the tables, one row per key with its parser, its default
 * and what conf_free releases; conf_sections.c makes each section's struct
 * and, at the section's end, checks the keys against each other. Every
 * complaint goes through conf_error, which counts it: a load with one fails.
 */
#ifndef DG_CONF_LOADER_H
#define DG_CONF_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/conf.h"
#include "util/buf.h"

enum section_kind { SEC_NONE, SEC_DROPGATE, SEC_COMMERCE, SEC_FEED, SEC_EXPORT, SEC_UNKNOWN };

/* a map.COLUMN key, kept until the section's end: the entity decides what it may name */
struct pending_map {
	char *column, *expr;
	unsigned long line;
};

struct loader {
	const char *path;
	char *basedir;
	FILE *fp;
	unsigned long line;	    /* line the reader handed out last */
	unsigned long section_line; /* line of the last [section] header */
	int line_too_long;
	struct buf *err;
	int nerr;
	struct conf *c;
	conf_feed_check_fn check_feed; /* NULL: none */
	/* the section being read */
	enum section_kind kind;
	char *section;
	unsigned long cur_section_line;
	void *obj;
	uint64_t seen; /* bit i: key i of the section's table was given */
	struct pending_map *maps;
	size_t nmaps;
	int seen_dropgate;
	const char *cur_key; /* while a key's value is parsed: errors name it */
};

/* conf_error: "path:line: " (and "[section] key: " while a key is parsed), the message. */
void conf_error(struct loader *ld, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A key parser stores v in field, or reports why not and leaves field as it was. */
typedef int (*key_parse_fn)(struct loader *ld, const char *v, void *field, const void *arg);
/* A default that depends on other keys of the section: the text, or NULL for none. */
typedef const char *(*key_derive_fn)(const void *obj);

/* What a field holds that conf_free releases. */
enum key_owns { OWN_NONE, OWN_STRING, OWN_LIST };

/*
 * A key of a section: its parser and field, the value it has when the file
 * does not give it, and what conf_free releases. def is written as in the
 * file and goes through parse when the section begins; derive is asked at the
 * section's end, and only while the field is still unset (NULL, an empty
 * list). A key with neither has no default: the field stays zero, NULL or
 * empty, and the section's checks say whether that is allowed.
 */
struct key_def {
	const char *name;
	key_parse_fn parse;
	size_t off;
	const void *arg;
	const char *def;
	key_derive_fn derive;
	enum key_owns owns;
};

/* the tables, each ended by a row whose name is NULL (conf_keys.c) */
extern const struct key_def conf_dropgate_keys[];
extern const struct key_def conf_commerce_keys[];
extern const struct key_def conf_feed_keys[];
extern const struct key_def conf_export_keys[];

/* keys_default: each key's def into obj, through the key's parser. */
void keys_default(struct loader *ld, const struct key_def *keys, void *obj);
/* keys_derive: each derived default, for the fields of obj still unset. */
void keys_derive(struct loader *ld, const struct key_def *keys, void *obj);
/* keys_release: what the keys' fields of obj hold. */
void keys_release(const struct key_def *keys, void *obj);

/* A new section's struct, with its defaults, appended to ld->c (conf_sections.c). */
struct target *section_new_target(struct loader *ld, const char *name, int line);
struct feed *section_new_feed(struct loader *ld, const char *name, int line);
struct export *section_new_export(struct loader *ld, const char *name, int line);
/* At the section's end: derived defaults, then what no single key can check. */
void section_finish_target(struct loader *ld, struct target *t);
void section_finish_feed(struct loader *ld, struct feed *f);
void section_finish_export(struct loader *ld, struct export *e);
/* section_check_references: after the last section, that every target named exists. */
void section_check_references(struct loader *ld);

#endif
