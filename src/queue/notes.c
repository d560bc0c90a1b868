#include "config.h"

#include <stdio.h>

#include "queue/notes.h"

const char *note_paused(void)
{
	return "paused";
}

const char *note_daemon_pid(void)
{
	return "daemon.pid";
}

const char *note_full(struct note_key *k, const char *partner, const char *feed)
{
	snprintf(k->text, sizeof(k->text), "full:%s/%s", partner, feed);
	return k->text;
}

const char *note_export_watermark(struct note_key *k, const char *export)
{
	snprintf(k->text, sizeof(k->text), "export:%s", export);
	return k->text;
}

const char *note_export_last_run(struct note_key *k, const char *export)
{
	snprintf(k->text, sizeof(k->text), "export:%s:last_run", export);
	return k->text;
}

const char *note_export_outcome(struct note_key *k, const char *export)
{
	snprintf(k->text, sizeof(k->text), "export:%s:outcome", export);
	return k->text;
}

const char *note_export_last_day(struct note_key *k, const char *export)
{
	snprintf(k->text, sizeof(k->text), "export:%s:last_day", export);
	return k->text;
}

const char *note_late(struct note_key *k, const char *partner, const char *feed)
{
	snprintf(k->text, sizeof(k->text), "late:%s/%s", partner, feed);
	return k->text;
}
