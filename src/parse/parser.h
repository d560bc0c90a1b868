/*
 * parser - the parser child of the daemon (see parser.c).
 */
#ifndef DG_PARSER_H
#define DG_PARSER_H

#include "lib/conf.h"

/*
 * parser_run: file parsed into outdir by a sandboxed child of self. The
 * child's wait status, or -1 when no child could be started (fork failed:
 * nothing is wrong with the file). A stop (stop() true) kills the child and
 * sets *stopped; so does a SIGTERM/SIGINT the child took from a stop sent to
 * the whole process group. Its exit statuses: cmd/commands.h (EXIT_IO: the
 * disk failed it).
 */
int parser_run(const char *self, const struct conf *c, const struct feed *f, const char *file,
	       const char *outdir, int (*stop)(void), int *stopped);

#endif
