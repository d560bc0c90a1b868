/*
 * crashpoint - named places where a test may have the process die as after
 * kill -9, to cut a multi-step protocol (a claim, a copy) at a chosen step
 * that real signal timing cannot hit reliably.
 *
 * DROPGATE_CRASH_AT=NAME makes crash_point("NAME") call _exit(137) (no
 * atexit, no flush: what kill -9 leaves). Unset, it does nothing. The points:
 *   claim-after-add     the claim's ledger rows are written, the file not moved
 *   claim-after-move    moved into the first feed's work dir, no link for the next
 *   copy-mid-write      a copy across filesystems has written its first block
 *   move-before-unlink  a copy across filesystems is renamed, the original still there
 *   redrop-mid-copy     dropgate redrop has written the first block of its copy
 *   ops-before-post     operations recorded as sent, their bulk request not yet made
 *   ops-after-post      a bulk request answered (Commerce has it), the answer not recorded
 *   ops-open            a bulk's answer recorded (its operations open), no status asked yet
 *   ops-after-call      a synchronous operation answered, the answer not recorded
 *   sift-before-save    a sequence's file sifted (its parse's batches gone), sift.json
 *                       not yet written
 */
#ifndef DG_CRASHPOINT_H
#define DG_CRASHPOINT_H

void crash_point(const char *name);

#endif
