/*
 * notes - the ledger's note keys, each spelled by one function.
 *
 * The ledger's notes (ledger_note_get, ledger_note_set) are one key-value
 * table that the daemon, the exports and the commands share: a key written by
 * one is read by another, and ledgers on disk hold them, so each key is built
 * here and nowhere else. A builder writes into the caller's struct note_key
 * and returns its text, for passing straight to ledger_note_*; a name too long
 * for NOTE_KEY_MAX is cut, as the hand-built keys always were. Builders never
 * touch the ledger and never fail.
 */
#ifndef DG_NOTES_H
#define DG_NOTES_H

#define NOTE_KEY_MAX 600

struct note_key {
	char text[NOTE_KEY_MAX];
};

/* "paused": why the daemon stopped claiming ("" once it claims again) */
const char *note_paused(void);
/* "daemon.pid": the running daemon's pid ("" after it stopped) */
const char *note_daemon_pid(void);
/* "full:PARTNER/FEED": the name of the newest applied mode=full file of partner+feed */
const char *note_full(struct note_key *k, const char *partner, const char *feed);
/* "export:NAME": an orders export's watermark, "UPDATED_AT|ENTITY_ID" */
const char *note_export_watermark(struct note_key *k, const char *export);
/* "export:NAME:last_run": when the export last ran (seconds since the epoch) */
const char *note_export_last_run(struct note_key *k, const char *export);
/* "export:NAME:outcome": what that run did, as status shows it */
const char *note_export_outcome(struct note_key *k, const char *export);
/* "export:NAME:last_day": a BI export's newest day written, "YYYY-MM-DD" */
const char *note_export_last_day(struct note_key *k, const char *export);
/* "late:PARTNER/FEED": since when an expected feed is late (seconds since the epoch; ""
   once a file came): the alert is run once per lateness, across restarts (ops/expect.h) */
const char *note_late(struct note_key *k, const char *partner, const char *feed);
#define NOTE_LATE_PREFIX "late:"

#endif
