/*
 * commands - the dropgate program's commands, one function each.
 *
 * Each takes the arguments after its name (argv[0] is the command name) and
 * returns the process exit status the contract gives it.
 */
#ifndef DG_COMMANDS_H
#define DG_COMMANDS_H

#define EXIT_USAGE 2 /* usage, configuration or I/O error */

int cmd_check(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* config_path: -c/--config, else $DROPGATE_CONFIG, else the default. */
const char *config_path(const char *given);

#endif
