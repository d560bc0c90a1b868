/*
 * reject - row problems and file messages to the sink, the validation rule,
 * the outcome (see reject.h). Nothing here fails, reads or writes a file.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/reject.h"
#include "util/xalloc.h"

void reject_init(struct reject *r, void (*problem)(void *ctx, const struct problem *p),
		 void (*message)(void *ctx, const char *msg), void *ctx, int stop_on_errors,
		 unsigned long allowed_errors)
{
	memset(r, 0, sizeof(*r));
	r->problem = problem;
	r->message = message;
	r->ctx = ctx;
	r->stop_on_errors = stop_on_errors;
	r->allowed_errors = allowed_errors;
	buf_init(&r->text, 64 * 1024);
}

void reject_release(struct reject *r)
{
	free(r->member_name);
	buf_release(&r->text);
	memset(r, 0, sizeof(*r));
}

void reject_member(struct reject *r, uint32_t member, const char *name)
{
	free(r->member_name);
	r->member_name = xstrdup(name);
	r->member = member;
}

void reject_vmessage(struct reject *r, const char *fmt, va_list ap)
{
	buf_reset(&r->text);
	if (r->member_name)
		buf_printf(&r->text, "member '%s': ", r->member_name);
	buf_vprintf(&r->text, fmt, ap);
	r->message(r->ctx, buf_cstr(&r->text));
}

void reject_message(struct reject *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reject_vmessage(r, fmt, ap);
	va_end(ap);
}

void reject_problem(struct reject *r, unsigned long line, const char *column, struct strview value,
		    const char *message)
{
	struct problem pr;

	r->row_problems++;
	if (++r->problems > REJECT_MAX_PROBLEMS) {
		if (r->problems == REJECT_MAX_PROBLEMS + 1)
			reject_message(r, "more than %d problems: only the first %d are listed",
				       REJECT_MAX_PROBLEMS, REJECT_MAX_PROBLEMS);
		return;
	}
	pr.line = line;
	pr.member = r->member;
	pr.column = column ? column : "";
	pr.value = value;
	pr.message = message;
	r->problem(r->ctx, &pr);
}

void reject_row(struct reject *r)
{
	r->rows_rejected++;
	if (r->file_rejected)
		return;
	if (r->stop_on_errors) {
		reject_message(r, "rows were rejected and validation = stop-on-errors: the file "
				  "is rejected whole");
		reject_file(r);
	} else if (r->rows_rejected > r->allowed_errors) {
		reject_message(r,
			       "more than %lu rows rejected (allowed_errors = %lu): the file is "
			       "rejected whole",
			       r->allowed_errors, r->allowed_errors);
		reject_file(r);
	}
}

void reject_file(struct reject *r)
{
	r->file_rejected = 1;
}

enum pipeline_state reject_outcome(int failed, int file_rejected, unsigned long rows_rejected)
{
	if (failed)
		return PIPE_FAILED;
	if (file_rejected)
		return PIPE_REJECTED;
	if (rows_rejected)
		return PIPE_PARTIAL;
	return PIPE_VALID;
}
