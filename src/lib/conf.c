#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/conf_loader.h"
#include "lib/mapping.h"
#include "util/filesnap.h"
#include "util/xalloc.h"

void conf_error(struct loader *ld, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	buf_printf(ld->err, "%s:%lu: ", ld->path, line);
	if (ld->cur_key)
		buf_printf(ld->err, "[%s] %s: ", ld->section, ld->cur_key);
	va_start(ap, fmt);
	buf_vprintf(ld->err, fmt, ap);
	va_end(ap);
	buf_addch(ld->err, '\n');
	ld->nerr++;
}

static void finish_section(struct loader *ld)
{
	if (ld->kind == SEC_COMMERCE)
		section_finish_target(ld, ld->obj);
	else if (ld->kind == SEC_FEED)
		section_finish_feed(ld, ld->obj);
	else if (ld->kind == SEC_EXPORT)
		section_finish_export(ld, ld->obj);
	for (size_t i = 0; i < ld->nmaps; i++) {
		free(ld->maps[i].column);
		free(ld->maps[i].expr);
	}
	free(ld->maps);
	ld->maps = NULL;
	ld->nmaps = 0;
	free(ld->section);
	ld->section = NULL;
	ld->kind = SEC_NONE;
	ld->obj = NULL;
	ld->seen = 0;
}

static int valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static void begin_section(struct loader *ld, const char *section)
{
	const char *space = strchr(section, ' ');
	char *type = xstrndup(section, space ? (size_t)(space - section) : strlen(section));
	const char *name = space ? space + 1 : NULL;
	struct conf *c = ld->c;

	ld->section = xstrdup(section);
	ld->cur_section_line = ld->section_line;
	ld->kind = SEC_UNKNOWN;
	if (strcmp(type, "dropgate") == 0 && name == NULL) {
		if (ld->seen_dropgate)
			conf_error(ld, ld->section_line, "[dropgate] appears twice");
		ld->seen_dropgate = 1;
		ld->kind = SEC_DROPGATE;
		ld->obj = c;
	} else if (strcmp(type, "commerce") == 0 || strcmp(type, "feed") == 0) {
		int is_feed = type[0] == 'f';
		const char *n = name ? name : "default";
		if (is_feed && name == NULL) {
			conf_error(ld, ld->section_line, "[feed] needs a name: [feed NAME]");
		} else if (!valid_name(n)) {
			conf_error(ld, ld->section_line,
				   "[%s]: names are letters, digits, '_', '-' and '.'", section);
		} else if (is_feed ? conf_feed(c, n) != NULL : conf_target(c, n) != NULL) {
			conf_error(ld, ld->section_line, "[%s] appears twice", section);
		} else {
			ld->kind = is_feed ? SEC_FEED : SEC_COMMERCE;
			ld->obj = is_feed
				      ? (void *)section_new_feed(ld, n, (int)ld->section_line)
				      : (void *)section_new_target(ld, n, (int)ld->section_line);
		}
	} else if (strcmp(type, "export") == 0 && name && valid_name(name)) {
		if (conf_export(c, name)) {
			conf_error(ld, ld->section_line, "[%s] appears twice", section);
		} else {
			ld->kind = SEC_EXPORT;
			ld->obj = section_new_export(ld, name, (int)ld->section_line);
		}
	} else {
		conf_error(ld, ld->section_line,
			   "unknown section [%s] (known: [dropgate], [commerce], [commerce NAME], "
			   "[feed NAME], [export NAME])",
			   section);
	}
	free(type);
}

/* the key table of each kind of section */
static const struct key_def *const section_keys[] = {
    [SEC_DROPGATE] = conf_dropgate_keys,
    [SEC_COMMERCE] = conf_commerce_keys,
    [SEC_FEED] = conf_feed_keys,
    [SEC_EXPORT] = conf_export_keys,
};

/* feed_pattern_key: map.COLUMN (compiled at the section's end), namespace.PREFIX and
   absent.COLUMN (checked against the entity at the section's end). */
static void feed_pattern_key(struct loader *ld, const char *name, const char *value)
{
	struct feed *f = ld->obj;

	if (strncmp(name, "absent.", 7) == 0) {
		if (strlist_has(&f->absent_cols, name + 7))
			conf_error(ld, ld->line, "[%s] %s is given twice", ld->section, name);
		strlist_push(&f->absent_cols, name + 7);
		strlist_push(&f->absent_vals, value);
		return;
	}
	if (strncmp(name, "namespace.", 10) == 0) {
		if (strlist_has(&f->ns_prefixes, name + 10))
			conf_error(ld, ld->line, "[%s] %s is given twice", ld->section, name);
		strlist_push(&f->ns_prefixes, name + 10);
		strlist_push(&f->ns_uris, value);
		return;
	}
	for (size_t i = 0; i < ld->nmaps; i++)
		if (strcmp(ld->maps[i].column, name + 4) == 0) {
			conf_error(ld, ld->line, "[%s] %s is given twice (first on line %lu)",
				   ld->section, name, ld->maps[i].line);
			return;
		}
	ld->maps = xreallocarray(ld->maps, ld->nmaps + 1, sizeof(*ld->maps));
	ld->maps[ld->nmaps].column = xstrdup(name + 4);
	ld->maps[ld->nmaps].expr = xstrdup(value);
	ld->maps[ld->nmaps].line = ld->line;
	ld->nmaps++;
}

/* set_key: the row of keys named name parses value into the section's struct. */
static void set_key(struct loader *ld, const struct key_def *keys, const char *name,
		    const char *value)
{
	size_t i;

	for (i = 0; keys[i].name; i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	if (keys[i].name == NULL) {
		struct buf names = BUF_INIT(4096);
		for (size_t j = 0; keys[j].name; j++)
			buf_printf(&names, "%s%s", j ? ", " : "", keys[j].name);
		conf_error(ld, ld->line, "[%s] unknown key '%s' (known: %s%s)", ld->section, name,
			   buf_cstr(&names),
			   ld->kind == SEC_FEED ? ", map.COLUMN, namespace.PREFIX, absent.COLUMN"
						: "");
		buf_release(&names);
		return;
	}
	if (ld->seen & (1ULL << i)) {
		conf_error(ld, ld->line, "[%s] key '%s' is given twice", ld->section, name);
		return;
	}
	ld->seen |= 1ULL << i;
	ld->cur_key = name;
	keys[i].parse(ld, value, (char *)ld->obj + keys[i].off, keys[i].arg);
	ld->cur_key = NULL;
}

/* handler: inih's callback for each key; a new section ends the one before. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;

	if (ld->section == NULL || strcmp(ld->section, section) != 0 ||
	    ld->cur_section_line != ld->section_line) {
		finish_section(ld);
		if (*section == '\0') {
			conf_error(ld, ld->line, "key '%s' comes before any [section]", name);
			ld->section = xstrdup("");
			ld->cur_section_line = ld->section_line;
			ld->kind = SEC_UNKNOWN;
			return 1;
		}
		begin_section(ld, section);
	}
	if (ld->kind == SEC_NONE || ld->kind == SEC_UNKNOWN)
		return 1; /* already reported */
	if (ld->kind == SEC_FEED &&
	    (strncmp(name, "map.", 4) == 0 || strncmp(name, "namespace.", 10) == 0 ||
	     strncmp(name, "absent.", 7) == 0))
		feed_pattern_key(ld, name, value);
	else
		set_key(ld, section_keys[ld->kind], name, value);
	return 1;
}

/* reader: one line at a time, counted, refused when longer than inih takes. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	const char *s;
	size_t len;

	if (ld->line_too_long)
		return NULL;
	n = getline(&line, &cap, ld->fp);
	if (n < 0) {
		free(line);
		return NULL;
	}
	ld->line++;
	len = (size_t)n;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	s = line;
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	/* inih needs room for the newline and the NUL on top of the text */
	if (len + 3 > (size_t)num) {
		conf_error(ld, ld->line, "line is %zu characters long; at most %d are read", len,
			   num - 3);
		ld->line_too_long = 1;
		free(line);
		return NULL;
	}
	if (len && *s == '[')
		ld->section_line = ld->line;
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	free(line);
	return str;
}

/* read_whole: fp's bytes, NUL-terminated; NULL with the reason in err. fp is closed. */
static char *read_whole(FILE *fp, const char *path, size_t *len, struct buf *err)
{
	char *text;
	size_t n;
	int failed;

	text = xmalloc(CONF_MAX_TEXT + 1);
	n = fread(text, 1, CONF_MAX_TEXT + 1, fp);
	failed = ferror(fp) || n > CONF_MAX_TEXT;
	if (ferror(fp))
		buf_printf(err, "%s: cannot read the configuration: %s\n", path, strerror(errno));
	else if (n > CONF_MAX_TEXT)
		buf_printf(err, "%s: the configuration is longer than %d bytes\n", path,
			   CONF_MAX_TEXT);
	fclose(fp);
	if (failed) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = n;
	return text;
}

static struct conf *load(const char *path, const char *text, size_t len,
			 const struct filesnap *given, conf_feed_check_fn check, struct buf *err);

struct conf *conf_read(const char *path, conf_feed_check_fn check, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	FILE *fp = fd < 0 ? NULL : fdopen(fd, "r");
	size_t len = 0;
	char *text;
	struct conf *c;

	if (fp == NULL) {
		buf_printf(err, "%s: cannot read the configuration: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	text = read_whole(fp, path, &len, err);
	if (text == NULL)
		return NULL;
	c = load(path, text, len, NULL, check, err);
	free(text);
	return c;
}

struct conf *conf_read_text(const char *path, const char *text, size_t len,
			    conf_feed_check_fn check, struct buf *err)
{
	return load(path, text, len, NULL, check, err);
}

int conf_snapshot_write(const struct conf *c, int fd)
{
	struct filesnap self = FILESNAP_INIT;
	int rc;

	filesnap_add(&self, c->path, c->text, c->textlen);
	rc = filesnap_write(&self, fd) < 0 || filesnap_write(&c->files, fd) < 0 ? -1 : 0;
	filesnap_clear(&self);
	return rc;
}

struct conf *conf_read_snapshot(int fd, conf_feed_check_fn check, struct buf *err)
{
	struct filesnap s = FILESNAP_INIT;
	struct conf *c = NULL;

	if (filesnap_read(&s, fd, CONF_MAX_SNAPSHOT, err) < 0) {
		buf_addstr(err, "\n");
		return NULL;
	}
	if (s.n == 0)
		buf_printf(err, "the configuration handed over is empty\n");
	else
		c = load(s.v[0].name, s.v[0].data, s.v[0].len, &s, check, err);
	filesnap_clear(&s);
	return c;
}

/* load: parse text as path's; lookup tables from given (all but its first file) or disk. */
static struct conf *load(const char *path, const char *text, size_t len,
			 const struct filesnap *given, conf_feed_check_fn check, struct buf *err)
{
	struct loader ld;
	struct conf *c = xcalloc(1, sizeof(*c));
	const char *slash;
	int rc;

	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	ld.err = err;
	ld.c = c;
	ld.check_feed = check;
	c->path = xstrdup(path);
	c->text = xmalloc(len + 1);
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	c->textlen = len;
	for (size_t i = 1; given && i < given->n; i++)
		filesnap_add(&c->files, given->v[i].name, given->v[i].data, given->v[i].len);
	slash = strrchr(path, '/');
	ld.basedir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	keys_default(&ld, conf_dropgate_keys, c);
	/* an empty text: fmemopen refuses a zero size, and an empty file is an empty stream */
	ld.fp = len ? fmemopen(c->text, len, "r") : fopen("/dev/null", "re");
	if (ld.fp == NULL) {
		buf_printf(err, "%s: cannot read the configuration: %s\n", path, strerror(errno));
		free(ld.basedir);
		conf_free(c);
		return NULL;
	}
	rc = ini_parse_stream(reader, &ld, handler, &ld);
	finish_section(&ld);
	if (rc > 0 && !ld.line_too_long)
		conf_error(&ld, (unsigned long)rc, "not a [section], key = value, or comment");
	section_check_references(&ld);
	if (c->node == NULL) {
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		c->node = xstrdup(host[0] ? host : "localhost");
	}
	fclose(ld.fp);
	free(ld.basedir);
	if (ld.nerr) {
		conf_free(c);
		return NULL;
	}
	return c;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->ntargets; i++) {
		free(c->targets[i].name);
		keys_release(conf_commerce_keys, &c->targets[i]);
	}
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct feed *f = &c->feeds[i];
		free(f->name);
		keys_release(conf_feed_keys, f);
		mapping_free(f->map);
		strlist_clear(&f->ns_prefixes);
		strlist_clear(&f->ns_uris);
		strlist_clear(&f->absent_cols);
		strlist_clear(&f->absent_vals);
		free(f->stamp.format);
		free(f->stamp.spec);
	}
	for (size_t i = 0; i < c->nexports; i++) {
		free(c->exports[i].name);
		keys_release(conf_export_keys, &c->exports[i]);
	}
	keys_release(conf_dropgate_keys, c);
	free(c->exports);
	free(c->targets);
	free(c->feeds);
	free(c->path);
	free(c->text);
	filesnap_clear(&c->files);
	free(c);
}

const struct feed *conf_feed(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nfeeds; i++)
		if (strcmp(c->feeds[i].name, name) == 0)
			return &c->feeds[i];
	return NULL;
}

const struct export *conf_export(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nexports; i++)
		if (strcmp(c->exports[i].name, name) == 0)
			return &c->exports[i];
	return NULL;
}

const struct target *conf_target(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->ntargets; i++)
		if (strcmp(c->targets[i].name, name) == 0)
			return &c->targets[i];
	return NULL;
}
