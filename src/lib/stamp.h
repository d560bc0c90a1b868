/*
 * stamp - when a file's data was true, for the feeds of a sequence: a feed's
 * `stamp = name:FORMAT` finds strptime(3) fields in the file's name (at the
 * first place in the name where the whole format matches; the time is UTC),
 * `stamp = mtime` takes the file's modification time, and without `stamp`
 * the arrival time is the stamp.
 *
 * stamp_from_name never allocates: 0 with *t set, -1 when the name does not
 * carry the format.
 */
#ifndef DG_STAMP_H
#define DG_STAMP_H

#include <stddef.h>
#include <time.h>

enum stamp_kind { STAMP_ARRIVAL, STAMP_NAME, STAMP_MTIME };

int stamp_from_name(const char *format, const char *name, time_t *t);
/*
 * stamp_of: the stamp of a file by kind (format for STAMP_NAME), from its
 * name, mtime, or the arrival time now. -1 (with *t = now) when the name does
 * not carry the format.
 */
int stamp_of(enum stamp_kind kind, const char *format, const char *name, time_t mtime,
	     time_t now, time_t *t);
/* stamp_text: t as YYYY-MM-DDTHH:MM:SSZ into out (at least 21 bytes). */
void stamp_text(time_t t, char *out, size_t size);

#endif
