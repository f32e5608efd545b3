/* Small helpers shared by every Xenon component. */
#ifndef XENON_UTIL_H
#define XENON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((a) - 1)) == 0)

/* Write/read exactly len bytes, retrying on EINTR and short transfers.
 * Return 0 on success, -1 with errno set on error (read_full: EPIPE-like
 * end of file is reported as -1 with errno = 0). */
int write_full(int fd, const void *buf, size_t len);
int read_full(int fd, void *buf, size_t len);

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

/* Create a directory and its parents (mode 0755); 0 or -1 with errno. */
int mkdir_p(const char *path);

/* A whole file (any kind: pipes too) in a malloc'd buffer with a NUL after
 * its *len bytes; NULL with errno set. */
char *read_whole_file(const char *path, size_t *len);

/* Make a directory's entries durable (after a create or rename in it):
 * 0, or -1 with errno set. */
int dir_fsync(const char *dir);

/* A malloc'd absolute form of path (NULL stays NULL): its realpath when
 * it exists, else joined to the current directory, as xl resolves the
 * kernel and ramdisk of a config. */
char *path_absolute(const char *path);

#endif
