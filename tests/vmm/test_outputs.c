/* Unit tests for the guest output plumbing: the bounded byte queue
 * (vmm/backends/byteq.c), the capped, rotated log file (logfile.c) and the
 * host memory check (vmm/memory/host_mem.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "byteq.h"
#include "host_mem.h"
#include "logfile.h"

static void byteq_keeps_oldest_when_full(void **state)
{
    struct byteq q;
    char out[16];
    assert_int_equal(byteq_init(&q, 8), 0);
    assert_int_equal(byteq_push(&q, "abcdef", 6), 6);
    assert_int_equal(byteq_pop(&q, out, 4), 4);
    assert_memory_equal(out, "abcd", 4);
    /* Wraps around the end; only what fits is taken. */
    assert_int_equal(byteq_push(&q, "ghijklmnop", 10), 6);
    assert_int_equal(byteq_pop(&q, out, sizeof(out)), 8);
    assert_memory_equal(out, "efghijkl", 8);
    assert_int_equal(byteq_pop(&q, out, sizeof(out)), 0);
    byteq_fini(&q);
}

static void byteq_latest_drops_oldest(void **state)
{
    struct byteq q;
    char out[16];
    assert_int_equal(byteq_init(&q, 8), 0);
    byteq_push_latest(&q, "abcde", 5);
    byteq_push_latest(&q, "fghij", 5);
    assert_int_equal(byteq_pop(&q, out, sizeof(out)), 8);
    assert_memory_equal(out, "cdefghij", 8);
    byteq_push_latest(&q, "0123456789abcdef", 16);     /* more than it holds */
    assert_int_equal(byteq_pop(&q, out, sizeof(out)), 8);
    assert_memory_equal(out, "89abcdef", 8);
    byteq_fini(&q);
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : st.st_size;
}

static void logfile_rotates_within_its_cap(void **state)
{
    char dir[] = "/tmp/xenon-logfile-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], p[300];
    snprintf(path, sizeof(path), "%s/guest.log", dir);
    mode_t old = umask(0);
    struct logfile lf;
    struct log_limits lim = { .max_size = LOGFILE_MIN_SIZE, .files = 3 };
    assert_int_equal(logfile_open(&lf, path, &lim), 0);
    char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 100; i++)           /* 100 KB into a 3 x 4 KiB cap */
        logfile_write(&lf, chunk, sizeof(chunk));
    logfile_close(&lf);
    umask(old);
    assert_int_equal(size_of(path), 100000 % LOGFILE_MIN_SIZE);
    for (int k = 1; k <= 2; k++) {
        snprintf(p, sizeof(p), "%s.%d", path, k);
        assert_int_equal(size_of(p), LOGFILE_MIN_SIZE);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, LOGFILE_MODE);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s.3", path);
    assert_int_equal(size_of(p), -1);      /* only 3 files in all */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, LOGFILE_MODE);
    unlink(path);
    rmdir(dir);
}

/* A log path that names a device (xl's "/dev/null" for a discarded log) is
 * written, never chmodded, capped or rotated: rotating would rename or
 * unlink the node. The test's own node (mknod, as root) stands in for
 * /dev/null; without mknod it is /dev/null itself, checked before/after. */
static void logfile_leaves_a_device_alone(void **state)
{
    char dir[] = "/tmp/xenon-logdev-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char node[256];
    snprintf(node, sizeof(node), "%s/null", dir);
    mode_t old = umask(0);
    const char *path = node;
    if (mknod(node, S_IFCHR | 0606, makedev(1, 3)) < 0)
        path = "/dev/null";
    umask(old);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    assert_true(S_ISCHR(before.st_mode));

    struct logfile lf;
    struct log_limits lim = { .max_size = LOGFILE_MIN_SIZE, .files = 1 };
    assert_int_equal(logfile_open(&lf, path, &lim), 0);
    char chunk[1000];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 20; i++)            /* 5 times the cap */
        logfile_write(&lf, chunk, sizeof(chunk));
    logfile_close(&lf);
    int fd = logfile_open_append(path);     /* the VMM's own --log */
    assert_true(fd >= 0);
    close(fd);

    assert_int_equal(stat(path, &after), 0);
    assert_true(S_ISCHR(after.st_mode));
    assert_int_equal(after.st_mode, before.st_mode);
    assert_int_equal(after.st_rdev, before.st_rdev);
    assert_int_equal(after.st_ino, before.st_ino);  /* not replaced */
    char p[300];
    snprintf(p, sizeof(p), "%s.1", path);
    assert_int_equal(size_of(p), -1);       /* nothing rotated */
    unlink(node);
    rmdir(dir);
}

/* An existing log keeps the mode its owner gave it; one we create gets
 * LOGFILE_MODE whatever the umask. */
static void logfile_mode_only_on_what_it_creates(void **state)
{
    char dir[] = "/tmp/xenon-logmode-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char mine[256], theirs[256];
    snprintf(mine, sizeof(mine), "%s/new.log", dir);
    snprintf(theirs, sizeof(theirs), "%s/old.log", dir);
    int fd = open(theirs, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fchmod(fd, 0604), 0);
    close(fd);

    mode_t old = umask(077);
    struct logfile lf;
    struct log_limits lim = { .max_size = 1 << 20, .files = 2 };
    assert_int_equal(logfile_open(&lf, theirs, &lim), 0);
    logfile_write(&lf, "hello\n", 6);
    logfile_close(&lf);
    assert_int_equal(logfile_open(&lf, mine, &lim), 0);
    logfile_write(&lf, "hello\n", 6);
    logfile_close(&lf);
    fd = logfile_open_append(theirs);
    assert_true(fd >= 0);
    close(fd);
    umask(old);

    struct stat st;
    assert_int_equal(stat(theirs, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0604);
    assert_int_equal(st.st_size, 6);
    assert_int_equal(stat(mine, &st), 0);
    assert_int_equal(st.st_mode & 07777, LOGFILE_MODE);
    assert_int_equal(st.st_size, 6);
    unlink(mine);
    unlink(theirs);
    rmdir(dir);
}

static void host_mem_refuses_more_than_available(void **state)
{
    struct host_meminfo mi;
    const char *text = "MemTotal:        2048000 kB\nMemFree:  100 kB\n"
                       "MemAvailable:    1024000 kB\n";
    assert_int_equal(host_meminfo_parse(text, &mi), 0);
    assert_int_equal(mi.total_kib, 2048000);
    assert_int_equal(mi.available_kib, 1024000);
    char err[200];
    assert_int_equal(host_mem_check(&mi, 1000ull << 20, err, sizeof(err)), 0);
    assert_int_equal(host_mem_check(&mi, 1001ull << 20, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "1001 MiB"));
    assert_non_null(strstr(err, "1000 MiB available of 2000 MiB"));
    assert_int_equal(host_meminfo_parse("MemTotal: 5 kB\n", &mi), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(byteq_keeps_oldest_when_full),
        cmocka_unit_test(byteq_latest_drops_oldest),
        cmocka_unit_test(logfile_rotates_within_its_cap),
        cmocka_unit_test(logfile_leaves_a_device_alone),
        cmocka_unit_test(logfile_mode_only_on_what_it_creates),
        cmocka_unit_test(host_mem_refuses_more_than_available),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
