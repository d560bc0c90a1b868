#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "lib/unpack.h"
#include "util/xalloc.h"

#define RATIO_GRACE (1024 * 1024)

struct member {
	char *name;   /* "inner.zip/stock.csv" for a member of a nested archive */
	size_t index; /* position in the archive */
	long inner;   /* position in the nested archive at index; -1: none */
	enum unpack_kind inner_kind;
};

struct unpack {
	char *path;
	char *name;
	enum unpack_kind kind;
	struct unpack_limits lim;
	struct archive *a;
	size_t pos; /* archive index of the next header to read */
	struct member *m;
	size_t n;
	size_t current;
	unsigned long long inflated;
	struct archive *in; /* the nested archive being read, or NULL */
	char block[65536];  /* the outer member's bytes, as the nested archive asks */
};

/* outer_read: libarchive's read callback for a nested archive: the outer member's data. */
static la_ssize_t outer_read(struct archive *inner, void *ctx, const void **buf)
{
	struct unpack *u = ctx;
	la_ssize_t n = archive_read_data(u->a, u->block, sizeof(u->block));

	(void)inner;
	*buf = u->block;
	return n;
}

static struct archive *open_nested(struct unpack *u, enum unpack_kind kind)
{
	struct archive *a = archive_read_new();

	if (kind == UNPACK_ZIP) {
		archive_read_support_format_zip(a);
	} else if (kind == UNPACK_GZ) {
		archive_read_support_filter_gzip(a);
		archive_read_support_format_raw(a);
	} else {
		if (kind == UNPACK_TGZ)
			archive_read_support_filter_gzip(a);
		archive_read_support_format_tar(a);
	}
	if (archive_read_open(a, u, NULL, outer_read, NULL) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

enum unpack_kind unpack_kind_of(const char *name)
{
	if (ends_with(name, ".zip"))
		return UNPACK_ZIP;
	if (ends_with(name, ".tar"))
		return UNPACK_TAR;
	if (ends_with(name, ".tar.gz") || ends_with(name, ".tgz"))
		return UNPACK_TGZ;
	if (ends_with(name, ".gz"))
		return UNPACK_GZ;
	return UNPACK_NONE;
}

void unpack_default_limits(struct unpack_limits *l)
{
	l->max_members = 1000;
	l->max_inflated = 4ULL * 1024 * 1024 * 1024;
	l->max_ratio = 100;
	l->nested = 0;
}

static struct archive *open_archive(const struct unpack *u, struct buf *err)
{
	struct archive *a = archive_read_new();

	switch (u->kind) {
	case UNPACK_ZIP:
		archive_read_support_format_zip(a);
		break;
	case UNPACK_TGZ:
		archive_read_support_filter_gzip(a);
		/* fall through */
	case UNPACK_TAR:
		archive_read_support_format_tar(a);
		break;
	case UNPACK_GZ:
		archive_read_support_filter_gzip(a);
		archive_read_support_format_raw(a);
		break;
	case UNPACK_NONE:
		break;
	}
	if (archive_read_open_filename(a, u->path, 64 * 1024) != ARCHIVE_OK) {
		buf_printf(err, "not a readable %s archive: %s",
			   u->kind == UNPACK_ZIP  ? "zip"
			   : u->kind == UNPACK_GZ ? "gzip"
						  : "tar",
			   archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int is_archive_name(const char *n)
{
	return unpack_kind_of(n) != UNPACK_NONE || ends_with(n, ".7z") || ends_with(n, ".rar") ||
	       ends_with(n, ".bz2") || ends_with(n, ".xz");
}

/* check_entry: why a member refuses the archive, or NULL (nested: 1 nested archives
   are read, 0 they are refused, -1 this is inside one: another level is refused). */
static const char *check_entry(struct archive_entry *e, const char *name, int nested)
{
	mode_t type = archive_entry_filetype(e);

	if (name[0] == '/')
		return "has an absolute path";
	for (const char *s = name; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : s + strlen(s))
		if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0'))
			return "has '..' in its path";
	if (archive_entry_symlink(e) || type == AE_IFLNK)
		return "is a symbolic link";
	if (archive_entry_hardlink(e))
		return "is a hard link";
	if (archive_entry_is_encrypted(e))
		return "is encrypted";
	if (type != AE_IFREG && type != AE_IFDIR)
		return "is not a regular file";
	if (type == AE_IFREG && nested <= 0 && is_archive_name(name))
		return nested < 0
			   ? "is an archive inside a nested archive (one level is read)"
			   : "is an archive inside the archive (nested archives are not read; "
			     "nested = yes reads them)";
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct member *)a)->name, ((const struct member *)b)->name);
}

static int selected(const struct strlist *members, const char *name)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;

	for (size_t i = 0; i < members->n; i++)
		if (fnmatch(members->v[i], name, 0) == 0 || fnmatch(members->v[i], base, 0) == 0)
			return 1;
	return 0;
}

/* over_caps: inflated bytes from packed ones past max_inflated or max_ratio (told in err)? */
static int over_caps(const struct unpack_limits *lim, unsigned long long inflated,
		     unsigned long long packed, struct buf *err)
{
	if (inflated > lim->max_inflated) {
		buf_printf(err, "inflates past %llu bytes, the cap for one archive (max_inflated)",
			   lim->max_inflated);
		return 1;
	}
	if (inflated > RATIO_GRACE && inflated / (packed ? packed : 1) > lim->max_ratio) {
		buf_printf(err,
			   "inflates more than %lu times its compressed size (%llu bytes from "
			   "%llu; max_ratio): a zip bomb?",
			   lim->max_ratio, inflated, packed);
		return 1;
	}
	return 0;
}

/*
 * listing_over_caps: listing inflates too (the headers of a tar.gz lie behind
 * every member's bytes, skipped or not): a is held to the caps as reads are.
 */
static int listing_over_caps(const struct unpack *u, struct archive *a, struct buf *err)
{
	return over_caps(&u->lim, (unsigned long long)archive_filter_bytes(a, 0),
			 (unsigned long long)archive_filter_bytes(u->a, -1), err);
}

/* add_member: one more member to read (name: ours now); -1, told in err, past max_members. */
static int add_member(struct unpack *u, char *name, size_t index, long inner,
		      enum unpack_kind inner_kind, struct buf *err)
{
	if (u->n == u->lim.max_members) {
		buf_printf(err, "more than %lu members to read: the archive is refused",
			   u->lim.max_members);
		free(name);
		return -1;
	}
	u->m = xreallocarray(u->m, u->n + 1, sizeof(*u->m));
	u->m[u->n].name = name;
	u->m[u->n].index = index;
	u->m[u->n].inner = inner;
	u->m[u->n].inner_kind = inner_kind;
	u->n++;
	return 0;
}

/* list_nested: the members of the archive in outer member outer (at index). */
static int list_nested(struct unpack *u, const char *outer, size_t index,
		       const struct strlist *members, struct buf *err)
{
	enum unpack_kind kind = unpack_kind_of(outer);
	struct archive *in;
	struct archive_entry *e;
	long k = 0;
	int r;

	if (kind == UNPACK_NONE) {
		buf_printf(err,
			   "member '%s' is an archive of a kind dropgate does not read: the "
			   "archive is refused",
			   outer);
		return -1;
	}
	in = open_nested(u, kind);
	if (in == NULL) {
		buf_printf(err, "member '%s' is not a readable archive: the archive is refused",
			   outer);
		return -1;
	}
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *iname = archive_entry_pathname(e);
		char *full, *gz = NULL;
		const char *why;

		if (listing_over_caps(u, in, err)) {
			archive_read_free(in);
			return -1;
		}
		if (kind == UNPACK_GZ) {
			const char *base = strrchr(outer, '/') ? strrchr(outer, '/') + 1 : outer;
			gz = xstrndup(base, strlen(base) - 3);
			iname = gz;
		}
		if (iname == NULL)
			iname = "";
		full = xasprintf("%s/%s", outer, iname);
		why = kind == UNPACK_GZ ? NULL : check_entry(e, iname, -1);
		if (why) {
			buf_printf(err, "member '%s' %s: the archive is refused", full, why);
			free(full);
			free(gz);
			archive_read_free(in);
			return -1;
		}
		if ((archive_entry_filetype(e) == AE_IFREG || kind == UNPACK_GZ) &&
		    selected(members, iname)) {
			if (add_member(u, full, index, k, kind, err) < 0) {
				free(gz);
				archive_read_free(in);
				return -1;
			}
		} else {
			free(full);
		}
		free(gz);
		k++;
	}
	if (r == ARCHIVE_EOF && listing_over_caps(u, in, err)) {
		archive_read_free(in);
		return -1;
	}
	if (r != ARCHIVE_EOF) {
		buf_printf(err, "member '%s' is a damaged archive: %s", outer,
			   archive_error_string(in));
		archive_read_free(in);
		return -1;
	}
	archive_read_free(in);
	return 0;
}

/*
 * list_entry: entry e of the archive (at index) refuses it, is a member to
 * read, holds members (a nested archive), or is passed over. -1: refused.
 */
static int list_entry(struct unpack *u, struct archive_entry *e, size_t index,
		      const struct strlist *members, struct buf *err)
{
	const char *mname = archive_entry_pathname(e);
	const char *why;
	char *gzname = NULL;
	int gz = u->kind == UNPACK_GZ, rc = 0;

	if (gz) {
		/* the raw format names its one entry "data": the member is the file
		   the name says, stock.csv inside stock.csv.gz */
		gzname = xstrndup(u->name, strlen(u->name) - 3);
		mname = gzname;
	}
	if (mname == NULL)
		mname = "";
	if (listing_over_caps(u, u->a, err)) {
		rc = -1;
	} else if ((why = gz ? NULL : check_entry(e, mname, u->lim.nested)) != NULL) {
		buf_printf(err, "member '%s' %s: the archive is refused", mname, why);
		rc = -1;
	} else if (u->lim.nested && !gz && archive_entry_filetype(e) == AE_IFREG &&
		   is_archive_name(mname)) {
		rc = list_nested(u, mname, index, members, err);
	} else if (gz || (archive_entry_filetype(e) == AE_IFREG && selected(members, mname))) {
		rc = add_member(u, xstrdup(mname), index, -1, UNPACK_NONE, err);
	}
	free(gzname);
	return rc;
}

struct unpack *unpack_open(const char *path, const char *name, enum unpack_kind kind,
			   const struct strlist *members, const struct unpack_limits *lim,
			   struct buf *err)
{
	struct unpack *u = xcalloc(1, sizeof(*u));
	struct archive_entry *e;
	size_t index = 0;
	int r;

	u->path = xstrdup(path);
	u->name = xstrdup(name);
	u->kind = kind;
	u->lim = *lim;
	u->a = open_archive(u, err);
	if (u->a == NULL)
		goto fail;
	while ((r = archive_read_next_header(u->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (list_entry(u, e, index, members, err) < 0)
			goto fail;
		index++;
	}
	if (r == ARCHIVE_EOF && listing_over_caps(u, u->a, err))
		goto fail;
	if (r != ARCHIVE_EOF) {
		buf_printf(err, "the archive is damaged after %zu members: %s", index,
			   archive_error_string(u->a));
		goto fail;
	}
	if (u->n == 0) {
		buf_printf(err, "no member matches members = ");
		for (size_t i = 0; i < members->n; i++)
			buf_printf(err, "%s%s", i ? " " : "", members->v[i]);
		goto fail;
	}
	qsort(u->m, u->n, sizeof(*u->m), by_name);
	archive_read_free(u->a);
	u->a = NULL;
	u->pos = 0;
	return u;
fail:
	unpack_close(u);
	return NULL;
}

void unpack_close(struct unpack *u)
{
	if (u == NULL)
		return;
	if (u->in)
		archive_read_free(u->in);
	if (u->a)
		archive_read_free(u->a);
	for (size_t i = 0; i < u->n; i++)
		free(u->m[i].name);
	free(u->m);
	free(u->path);
	free(u->name);
	free(u);
}

size_t unpack_count(const struct unpack *u)
{
	return u->n;
}

const char *unpack_member(const struct unpack *u, size_t i)
{
	return u->m[i].name;
}

int unpack_begin(struct unpack *u, size_t i, struct buf *err)
{
	size_t want = u->m[i].index;
	struct archive_entry *e;

	if (u->in) {
		archive_read_free(u->in);
		u->in = NULL;
	}
	/* the outer member again (a nested archive is read from its start each time) */
	if (u->a && (want < u->pos || (want == u->pos - 1 && u->m[i].inner >= 0))) {
		archive_read_free(u->a);
		u->a = NULL;
	}
	if (u->a && want < u->pos) { /* behind us: read the archive again from the start */
		archive_read_free(u->a);
		u->a = NULL;
	}
	if (u->a == NULL) {
		u->a = open_archive(u, err);
		if (u->a == NULL)
			return -1;
		u->pos = 0;
	}
	for (;;) {
		int r = archive_read_next_header(u->a, &e);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			buf_printf(err, "member '%s' could not be found again: %s", u->m[i].name,
				   archive_error_string(u->a));
			return -1;
		}
		if (u->pos++ == want)
			break;
	}
	u->current = i;
	if (u->m[i].inner >= 0) {
		u->in = open_nested(u, u->m[i].inner_kind);
		for (long k = 0; u->in && k <= u->m[i].inner; k++)
			if (archive_read_next_header(u->in, &e) != ARCHIVE_OK) {
				archive_read_free(u->in);
				u->in = NULL;
			}
		if (u->in == NULL) {
			buf_printf(err, "member '%s' could not be found again", u->m[i].name);
			return -1;
		}
	}
	return 0;
}

ssize_t unpack_read(struct unpack *u, void *p, size_t n, struct buf *err)
{
	la_ssize_t got = archive_read_data(u->in ? u->in : u->a, p, n);
	unsigned long long packed;

	if (got < 0) {
		buf_printf(err, "cannot be read: %s", archive_error_string(u->in ? u->in : u->a));
		return -1;
	}
	u->inflated += (unsigned long long)got;
	packed = (unsigned long long)archive_filter_bytes(u->a, -1);
	if (over_caps(&u->lim, u->inflated, packed, err))
		return -1;
	return (ssize_t)got;
}
