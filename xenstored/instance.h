/* instance: one daemon per data directory, pid file and socket.
 *
 * A second xenon-xenstored started on the same data directory, pid file or
 * socket must refuse before it touches any of them (it would truncate the
 * journal, take over the socket and write the same journal as the first).
 * Locks are flock(2) locks: they belong to the open file description, so
 * they survive fork() into the daemon and vanish with it (SIGKILL too);
 * nothing stale is ever left to clean up.
 *
 * Each function returns 0 or -1 after printing why on stderr (and to the
 * log), so that the administrator who ran the second start reads it.
 */
#ifndef XENSTORED_INSTANCE_H
#define XENSTORED_INSTANCE_H

#include <sys/types.h>

/* Lock dir (created if missing) for the life of the process. */
int instance_lock_dir(const char *dir);

/* Open and lock the pid file (created if missing; its contents stay as
 * they are until instance_write_pid). */
int instance_lock_pidfile(const char *path);
/* Record pid in the locked pid file (the forking parent records its
 * child's, so that the file is complete when the parent returns). */
int instance_write_pid(pid_t pid);
/* Remove the pid file at a clean exit (while still holding its lock). */
void instance_remove_pidfile(void);

/* Fails if a daemon is accepting connections on the socket path. */
int instance_check_socket(const char *path);

#endif
