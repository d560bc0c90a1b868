/*
 * fuzz_result - what the daemon reads back from the parser child, which read
 * partner bytes and is not trusted: F.result.json, .F.members and a batch's
 * .sums. A result parsed_result accepts must hold what the daemon then reads
 * from it without a second look; the members are the NUL-ended names, all of
 * them; sums parcel_read_sums accepts name lines of their batch, back to back
 * after its header to its end (the sift copies them without a second look).
 *
 * Input: byte 0 = which file (modulo 5: result, members, result from a file,
 * members from a file, sums); the rest is its content. For sums: a byte of
 * rows less than the whole sums given (0: as many as there are), two bytes of
 * the batch's length, the batch, then the sums.
 */
#include "config.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/parsed.h"
#include "parse/parcel.h"
#include "util/buf.h"
#include "util/strlist.h"

static volatile size_t sink_bytes;
static char dir[] = "/tmp/dropgate-fuzz-result-XXXXXX";
static char path[sizeof(dir) + 32];
static int file_fd = -1;
static char *sums_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_quiet();
	fuzz_dir(dir);
	snprintf(path, sizeof(path), "%s/f.out", dir);
	file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (file_fd < 0)
		abort();
	sums_path = parcel_sums_path(dir, "f.csv", 1);
	return 0;
}

/* sums: a batch and its sums; what is accepted fits the batch */
static void sums(struct fuzz_in *in)
{
	struct parcel p = {.dir = dir, .name = "f.csv"};
	struct buf csv = BUF_INIT(BUF_NOCAP), err = BUF_INIT(BUF_NOCAP);
	struct batch_sum *sum = NULL;
	unsigned fewer = fuzz_take(in);
	size_t len = fuzz_take(in) << 8, rows, at;
	FILE *f;

	len |= fuzz_take(in);
	len = len < in->n ? len : in->n;
	buf_add(&csv, in->p, len);
	in->p += len, in->n -= len;
	f = fopen(sums_path, "w");
	if (f == NULL || fwrite(in->p, 1, in->n, f) != in->n || fclose(f) != 0)
		abort();
	rows = in->n / sizeof(*sum);
	rows = fewer && fewer <= rows ? rows - fewer : rows;
	if (parcel_read_sums(&p, 1, &csv, rows, &sum, &err) == 0) {
		at = rows ? sum[0].at : csv.len;
		if (rows && (at == 0 || at > csv.len || csv.data[at - 1] != '\n'))
			abort(); /* the header is not a line of its own */
		for (size_t i = 0; i < rows; i++) {
			if (sum[i].at != at || sum[i].len == 0 || at + sum[i].len > csv.len ||
			    csv.data[at + sum[i].len - 1] != '\n')
				abort(); /* a line outside the batch, or not a line */
			at += sum[i].len;
		}
		if (at != csv.len)
			abort();
	} else if (err.len == 0) {
		abort(); /* refused without saying why */
	}
	free(sum);
	buf_release(&csv);
	buf_release(&err);
}

/* check_accepted: the fields daemon.c reads are there, of their type. */
static void check_accepted(json_t *r)
{
	const char *state = json_string_value(json_object_get(r, "state"));
	json_int_t rows = json_integer_value(json_object_get(r, "rows"));
	json_int_t rejected = json_integer_value(json_object_get(r, "rows_rejected"));
	json_t *msgs = json_object_get(r, "messages"), *m;
	size_t i;

	if (state == NULL || rows < 0 || rejected < 0 || rejected > rows ||
	    !json_is_integer(json_object_get(r, "batches")))
		abort();
	json_array_foreach(msgs, i, m)
	{
		if (json_string_value(m) == NULL)
			abort();
		sink_bytes += strlen(json_string_value(m));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	unsigned which = fuzz_take(&in) % 5;
	struct buf err = BUF_INIT(BUF_NOCAP);
	struct strlist members = STRLIST_INIT;
	json_t *r = NULL;
	size_t nuls = 0;

	if (ftruncate(file_fd, 0) < 0 || pwrite(file_fd, in.p, in.n, 0) != (ssize_t)in.n)
		abort();
	switch (which) {
	case 4:
		sums(&in);
		break;
	case 0:
		r = parsed_result((const char *)in.p, in.n, &err);
		break;
	case 2:
		r = parsed_result_load(path, &err);
		break;
	default: /* 1 and 3 */
		if (which == 1)
			parsed_members((const char *)in.p, in.n, &members);
		else
			parsed_members_load(path, &members);
		for (size_t i = 0; i < in.n; i++)
			nuls += in.p[i] == '\0';
		if (members.n != nuls + (in.n > 0 && in.p[in.n - 1] != '\0'))
			abort(); /* a name lost or made up */
	}
	if (r) {
		check_accepted(r);
		json_decref(r);
	} else if ((which == 0 || which == 2) && err.len == 0) {
		abort(); /* refused without saying why */
	}
	strlist_clear(&members);
	buf_release(&err);
	return 0;
}
