/* pid_map: which domain a child process (a VMM) belongs to, by its pid.
 *
 * The monitor learns of a child's end by its pid (SIGCHLD's ssi_pid, or
 * waitpid); finding the domain must not cost a walk of every domain id,
 * which would make each end (each destroy) O(MAX_DOMID). An open-addressed
 * hash with linear probing and no tombstones (deletion shifts entries
 * back), grown by doubling at half load: lookups, insertions and removals
 * are O(1) on average whatever the number of domains.
 *
 * Keys are pids > 0; values are any unsigned (domain ids here). Not
 * thread-safe. A zero-initialised struct pid_map is an empty map. */
#ifndef XENON_PID_MAP_H
#define XENON_PID_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pid_map_slot {
    pid_t pid;          /* 0: empty */
    unsigned value;
};

struct pid_map {
    struct pid_map_slot *slots;
    size_t cap;         /* 0 or a power of two */
    size_t count;
};

/* Map pid to value, replacing an earlier value of pid. 0, or -1 with
 * errno EINVAL (pid <= 0) or ENOMEM (the map is unchanged then). */
int pid_map_put(struct pid_map *m, pid_t pid, unsigned value);
/* true with *value set when pid is mapped. */
bool pid_map_get(const struct pid_map *m, pid_t pid, unsigned *value);
/* Forget pid: true when it was mapped (*value, if not NULL, its value). */
bool pid_map_del(struct pid_map *m, pid_t pid, unsigned *value);
/* Free the slots; the map is empty and usable again. */
void pid_map_clear(struct pid_map *m);

#endif
