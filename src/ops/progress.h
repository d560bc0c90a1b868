/*
 * progress - how far a file's read has come, told while it is read: to a
 * small file that `dropgate status` reads (the daemon's parser child writes
 * `.progress` in its out dir), and as a bar on a terminal's stderr (`check`
 * and `submit` on files over PROGRESS_BAR_MIN bytes, unless --quiet).
 *
 * The file is one line, rewritten in place at most every PROGRESS_EVERY_MS:
 *   "v1 BYTES_READ BYTES_TOTAL ROWS STARTED_MS UPDATED_MS\n" (padded)
 * BYTES_TOTAL is the file's size (for an archive, the bytes read are the
 * members' and can pass it: a reader caps the fraction). ROWS are the rows
 * put in batches so far.
 */
#ifndef DG_PROGRESS_H
#define DG_PROGRESS_H

#include <stddef.h>

#define PROGRESS_BAR_MIN (4ULL * 1024 * 1024)
#define PROGRESS_EVERY_MS 250
#define PROGRESS_FILE ".progress"

struct progress {
	int fd;	 /* the .progress file, -1: none */
	int bar; /* draw on stderr */
	const char *label;
	unsigned long long total, done;
	unsigned long rows;
	long long started_ms, shown_ms;
};

struct progress_read {
	unsigned long long done, total;
	unsigned long rows;
	long long started_ms, updated_ms; /* CLOCK_REALTIME ms */
};

/* progress_open: into dir/.progress (dir NULL: none), a bar when bar is set. */
void progress_open(struct progress *p, const char *dir, int bar, const char *label,
		   unsigned long long total);
void progress_bytes(struct progress *p, size_t n);
void progress_rows(struct progress *p, size_t n);
/* progress_close: the last figures written, the bar cleared. */
void progress_close(struct progress *p);
/* progress_load: dir/.progress; 0, or -1 when there is none (or it is not ours). */
int progress_load(const char *dir, struct progress_read *r);
/* progress_bar: "[#####.....]" of width cells for fraction 0..1 */
void progress_bar(char *out, size_t size, double fraction, int width);

#endif
