#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/parsed.h"
#include "util/xalloc.h"

/* The most a result or members file may hold: far above what a child writes. */
#define PARSED_MAX_BYTES (64 * 1024 * 1024)

static int is_count(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 &&
	       json_integer_value(v) <= (json_int_t)UINT32_MAX;
}

/* result_fault: what makes r a result the child would not write, or NULL. */
static const char *result_fault(const json_t *r)
{
	static const char *const counts[] = {"rows", "rows_rejected", "batches"};
	const char *state = json_string_value(json_object_get(r, "state"));
	const json_t *msgs = json_object_get(r, "messages"), *m;
	size_t i;

	if (!json_is_object(r))
		return "is not a JSON object";
	if (state == NULL || (strcmp(state, "valid") != 0 && strcmp(state, "partial") != 0 &&
			      strcmp(state, "rejected") != 0))
		return "has no known state";
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (!is_count(json_object_get(r, counts[i])))
			return "lacks a count (rows, rows_rejected, batches)";
	if (json_integer_value(json_object_get(r, "rows_rejected")) >
	    json_integer_value(json_object_get(r, "rows")))
		return "rejects more rows than it read";
	if (msgs != NULL && !json_is_array(msgs))
		return "has messages that are not a list";
	json_array_foreach(msgs, i, m)
	{
		if (!json_is_string(m))
			return "has a message that is not text";
	}
	return NULL;
}

struct json_t *parsed_result(const char *text, size_t len, struct buf *err)
{
	json_error_t je;
	json_t *r = json_loadb(text, len, 0, &je);
	const char *why;

	if (r == NULL) {
		buf_printf(err, "the parser's result is not JSON: %s (line %d)", je.text, je.line);
		return NULL;
	}
	why = result_fault(r);
	if (why) {
		buf_printf(err, "the parser's result %s", why);
		json_decref(r);
		return NULL;
	}
	return r;
}

int parsed_read(const char *path, struct buf *out, struct buf *err)
{
	char block[65536];
	ssize_t n;
	struct stat st;
	/* the parser child wrote it: a link it planted (symbolic or hard, to the token
	   say) would hand that file to the daemon */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)) {
		close(fd);
		fd = -1;
		errno = EPERM;
	}
	if (fd < 0) {
		buf_printf(err, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	buf_reset(out);
	while ((n = read(fd, block, sizeof(block))) > 0)
		if (buf_add(out, block, (size_t)n) < 0) {
			buf_printf(err, "%s is larger than %zu bytes", path, out->cap);
			close(fd);
			return -1;
		}
	if (n < 0)
		buf_printf(err, "cannot read %s: %s", path, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}

struct json_t *parsed_result_load(const char *path, struct buf *err)
{
	struct buf text = BUF_INIT(PARSED_MAX_BYTES);
	json_t *r = NULL;

	if (parsed_read(path, &text, err) == 0)
		r = parsed_result(text.data ? text.data : "", text.len, err);
	buf_release(&text);
	return r;
}

void parsed_members(const char *text, size_t len, struct strlist *out)
{
	while (len > 0) {
		const char *end = memchr(text, '\0', len);
		size_t n = end ? (size_t)(end - text) : len;
		char *name = xstrndup(text, n);

		strlist_push(out, name);
		free(name);
		text += end ? n + 1 : n;
		len -= end ? n + 1 : n;
	}
}

void parsed_members_load(const char *path, struct strlist *out)
{
	struct buf text = BUF_INIT(PARSED_MAX_BYTES), err = BUF_INIT(4096);

	if (parsed_read(path, &text, &err) == 0)
		parsed_members(text.data, text.len, out);
	buf_release(&text);
	buf_release(&err);
}
