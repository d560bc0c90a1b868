/*
 * finish - a file's end state, its report and its original (see finish.c).
 */
#ifndef DG_FINISH_H
#define DG_FINISH_H

#include <jansson.h>

struct file_job;
struct parcel;
struct submit_state;

/* finish: archived or parked in failed/, the end state written, the work copy gone. */
void finish(struct file_job *j, const char *state, const char *message);
/* defer: the file waits for its next try (retry_deferred, doubling), why in its message. */
void defer(struct file_job *j, const char *why);
/* final_report: the parser's messages, Commerce's refusals and the counts, in the report. 0 or -1.
 */
int final_report(struct file_job *j, struct parcel *pc, struct submit_state *s, json_t *worker,
		 const char *state);

#endif
