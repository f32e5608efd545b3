/* A standby VMM (contract.h, "a standby VMM"): exec'd by the host monitor
 * before there is a domain for it, it waits for the domain's options. */
#ifndef XENON_VMM_STANDBY_H
#define XENON_VMM_STANDBY_H

#include <stdint.h>

/* Where "--standby" is in argv (index >= 1), or 0: not a standby. */
int standby_index(int argc, char **argv);

/* Wait on the descriptor after argv[at] for the hand-over and make the
 * command line to run the domain with: argv less "--standby FD", then the
 * options received, then "--control-fd N" for each control connection
 * received (the log descriptor, if any, is already our stdout and
 * stderr). *argc and *argv are replaced (malloc'd, kept for the process's
 * life). 0, or -1: end of file or a bad message (nothing to run). */
int standby_wait(int at, int *argc, char ***argv);
/* CLOCK_MONOTONIC ns when the hand-over arrived (--launch-trace). */
extern uint64_t standby_received_ns;

#endif
