/*
 * filesnap - named file bytes on an fd: per file "NAMELEN DATALEN\n" NAME DATA.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/filesnap.h"
#include "util/io.h"
#include "util/xalloc.h"

void filesnap_add(struct filesnap *s, const char *name, const char *data, size_t len)
{
	struct filesnap_file *f = NULL;

	for (size_t i = 0; i < s->n && f == NULL; i++)
		if (strcmp(s->v[i].name, name) == 0)
			f = &s->v[i];
	if (f == NULL) {
		s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
		f = &s->v[s->n++];
		f->name = xstrdup(name);
	} else {
		free(f->data);
	}
	f->data = xmalloc(len + 1);
	memcpy(f->data, data, len);
	f->data[len] = '\0';
	f->len = len;
}

const struct filesnap_file *filesnap_find(const struct filesnap *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

void filesnap_clear(struct filesnap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].data);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int filesnap_write(const struct filesnap *s, int fd)
{
	for (size_t i = 0; i < s->n; i++) {
		char head[64];
		size_t namelen = strlen(s->v[i].name);
		int n = snprintf(head, sizeof(head), "%zu %zu\n", namelen, s->v[i].len);
		if (write_all(fd, head, (size_t)n) < 0 ||
		    write_all(fd, s->v[i].name, namelen) < 0 ||
		    write_all(fd, s->v[i].data, s->v[i].len) < 0)
			return -1;
	}
	return 0;
}

/* parse: every record of all[0..len); -1 when one is malformed or cut. */
static int parse(struct filesnap *s, const char *all, size_t len)
{
	size_t at = 0;

	while (at < len) {
		unsigned long long namelen, datalen;
		char *name;
		const char *nl = memchr(all + at, '\n', len - at);
		if (nl == NULL || sscanf(all + at, "%llu %llu", &namelen, &datalen) != 2)
			return -1;
		at = (size_t)(nl - all) + 1;
		if (namelen == 0 || namelen > len - at || datalen > len - at - namelen ||
		    memchr(all + at, '\0', (size_t)namelen))
			return -1;
		name = xstrndup(all + at, (size_t)namelen);
		filesnap_add(s, name, all + at + namelen, (size_t)datalen);
		free(name);
		at += (size_t)(namelen + datalen);
	}
	return 0;
}

int filesnap_read(struct filesnap *s, int fd, size_t cap, struct buf *err)
{
	struct buf all = BUF_INIT(cap);
	char block[65536];
	ssize_t n;
	int rc = 0;

	while ((n = read(fd, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "cannot read the files handed over: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (buf_add(&all, block, (size_t)n) < 0) {
			buf_printf(err, "the files handed over are larger than %zu bytes", cap);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && parse(s, all.data ? all.data : "", all.len) < 0) {
		buf_printf(err, "the files handed over are cut or malformed");
		rc = -1;
	}
	if (rc < 0)
		filesnap_clear(s);
	buf_release(&all);
	return rc;
}
