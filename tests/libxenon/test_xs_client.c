/* The toolstack's xenstore client against a real xenon-xenstored (started
 * here, private socket and data directory): plain calls and pipelining.
 *     test_xs_client XENSTORED */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "xs_client.h"

static const char *xenstored;
static char dir[] = "/tmp/xs-client-test.XXXXXX";
static char sock[sizeof(dir) + 16];
static pid_t daemon_pid;

static void spawn_daemon(void)
{
    char data[sizeof(dir) + 16];
    snprintf(data, sizeof(data), "%s/data", dir);
    daemon_pid = fork();
    if (daemon_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);  /* a test that aborts stops it too */
        execl(xenstored, xenstored, "-N", "--socket", sock, "--data-dir", data,
              "--pid-file", "", "--log-file", "/dev/null", (char *)NULL);
        _exit(127);
    }
}

static int start_daemon(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof(sock), "%s/sock", dir);
    spawn_daemon();
    for (int i = 0; i < 1000; i++) {
        struct xs_client *c = xs_open(sock);
        if (c) {
            xs_close(c);
            return 0;
        }
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int stop_daemon(void **state)
{
    (void)state;
    kill(daemon_pid, SIGTERM);
    waitpid(daemon_pid, NULL, 0);
    char cmd[sizeof(dir) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void check_value(struct xs_client *c, const char *path, const char *want)
{
    char *v = NULL;
    assert_int_equal(xs_read(c, path, &v), 0);
    assert_string_equal(v, want);
    free(v);
}

/* More writes than one queue holds (32 KiB; ~45 bytes each) but within
 * the transaction-nodes quota: the client sends the queue when full
 * and all of them land, in order, in one transaction. */
static void test_pipelined_transaction(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    char path[64], value[32];
    for (int i = 0; i < 800; i++) {
        snprintf(path, sizeof(path), "/pipe/tx/node%d", i);
        snprintf(value, sizeof(value), "value-%d", i);
        assert_int_equal(xs_write(c, path, value), 0);
    }
    assert_int_equal(xs_set_perms(c, "/pipe/tx/node7", "n0\0r5", 6), 0);
    assert_int_equal(xs_pipeline_end(c), 0);
    assert_int_equal(xs_transaction_end(c, 1), 0);

    struct xs_client *other = xs_open(sock);
    assert_non_null(other);
    for (int i = 0; i < 800; i++) {
        snprintf(path, sizeof(path), "/pipe/tx/node%d", i);
        snprintf(value, sizeof(value), "value-%d", i);
        check_value(other, path, value);
    }
    xs_close(other);
    xs_close(c);
}

/* A failing request in the queue: end reports its error, the requests
 * around it still ran, and replies stay in step with requests. */
static void test_pipelined_error(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/pipe/err/a", "1"), 0);
    assert_int_equal(xs_write(c, "/pipe/err//bad", "2"), 0);   /* queued */
    assert_int_equal(xs_write(c, "/pipe/err/c", "3"), 0);
    assert_int_equal(xs_pipeline_end(c), -EINVAL);
    check_value(c, "/pipe/err/a", "1");
    check_value(c, "/pipe/err/c", "3");
    assert_int_equal(xs_pipeline_end(c), 0);    /* the error was reported once */
    xs_close(c);
}

/* A read while pipelining sends the queue first: it sees the writes. */
static void test_read_flushes(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/pipe/rw", "before"), 0);
    check_value(c, "/pipe/rw", "before");
    assert_int_equal(xs_write(c, "/pipe/rw", "after"), 0);
    assert_int_equal(xs_mkdir(c, "/pipe/rw-dir"), 0);
    assert_int_equal(xs_pipeline_end(c), 0);
    check_value(c, "/pipe/rw", "after");
    check_value(c, "/pipe/rw-dir", "");
    xs_close(c);
}

/* Many reads in one batch: more than one 32 KiB round of requests, values
 * in order, a missing node as NULL, and the connection still in step. */
static void test_read_many(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    enum { N = 1200 };
    static char paths[N][64];
    const char *pp[N];
    char *values[N];
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/many/%d/a-fairly-long-node-name", i);
        pp[i] = paths[i];
        char v[16];
        snprintf(v, sizeof(v), "v%d", i);
        if (i % 7 != 3 && i < 1000)     /* quota: at most 1024 per transaction */
            assert_int_equal(xs_write(c, paths[i], v), 0);
    }
    assert_int_equal(xs_pipeline_end(c), 0);
    assert_int_equal(xs_transaction_end(c, 1), 0);
    assert_int_equal(xs_read_many(c, pp, N, values), 0);
    for (int i = 0; i < N; i++) {
        if (i % 7 == 3 || i >= 1000) {
            assert_null(values[i]);
        } else {
            char v[16];
            snprintf(v, sizeof(v), "v%d", i);
            assert_non_null(values[i]);
            assert_string_equal(values[i], v);
        }
        free(values[i]);
    }
    check_value(c, "/many/0/a-fairly-long-node-name", "v0");
    xs_close(c);
}

/* Replies of every size through the client's 4 KiB read buffer: values
 * of the largest size a write allows, read one by one and batched between
 * small ones, and a directory listing whose reply fills the whole 4096-byte
 * payload (read past the buffer). */
static void test_large_replies(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    const char *path = "/big/value";
    /* payload = path, NUL, data */
    static char big[4096];
    size_t n = 4096 - strlen(path) - 1;
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = 0;
    assert_int_equal(xs_write(c, path, big), 0);
    assert_int_equal(xs_write(c, "/big/small", "s"), 0);
    check_value(c, path, big);
    const char *pp[] = { "/big/small", path, "/big/small", path, "/big/small" };
    char *values[5];
    assert_int_equal(xs_read_many(c, pp, 5, values), 0);
    for (int i = 0; i < 5; i++) {
        assert_non_null(values[i]);
        assert_string_equal(values[i], i % 2 ? big : "s");
        free(values[i]);
    }
    /* 64 children named by 63 characters: "name\0" x 64 = 4096 bytes. */
    char child[128];
    for (int i = 0; i < 64; i++) {
        snprintf(child, sizeof(child), "/dir/%02d%061d", i, 0);
        assert_int_equal(xs_write(c, child, ""), 0);
    }
    char **names = NULL;
    int count = 0;
    assert_int_equal(xs_directory(c, "/dir", &names, &count), 0);
    assert_int_equal(count, 64);
    for (int i = 0; i < count; i++)
        assert_int_equal(strlen(names[i]), 63);
    xs_free_list(names, count);
    check_value(c, "/big/small", "s");  /* the stream is still in step */
    xs_close(c);
}

/* A directory longer than one reply (1500 children, ~9 KiB of names, as
 * /local/domain with a few thousand domains): DIRECTORY answers E2BIG and
 * the client reads it in parts. */
static void test_long_directory(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    enum { N = 1500 };
    xs_pipeline_begin(c);
    char path[64];
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/long/child%04d", i);
        assert_int_equal(xs_write(c, path, ""), 0);
    }
    assert_int_equal(xs_pipeline_end(c), 0);
    char **names = NULL;
    int count = 0;
    assert_int_equal(xs_directory(c, "/long", &names, &count), 0);
    assert_int_equal(count, N);
    static char seen[N];
    for (int i = 0; i < count; i++) {
        int k = -1;
        assert_int_equal(sscanf(names[i], "child%4d", &k), 1);
        assert_true(k >= 0 && k < N && !seen[k]);
        seen[k] = 1;
    }
    xs_free_list(names, count);
    /* An empty directory and a short one still come whole. */
    assert_int_equal(xs_write(c, "/short/a", ""), 0);
    assert_int_equal(xs_directory(c, "/short", &names, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "a");
    xs_free_list(names, count);
    assert_int_equal(xs_directory(c, "/short/a", &names, &count), 0);
    assert_int_equal(count, 0);
    xs_free_list(names, count);
    xs_close(c);
}

/* xenstored SIGKILLed and started again on its data directory: the
 * client reconnects and re-sends; a transaction it was in is lost (its
 * requests and commit get -EAGAIN), the next one works. */
static void test_daemon_restart(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    assert_int_equal(xs_write(c, "/restart/a", "1"), 0);
    assert_int_equal(xs_transaction_begin(c), 0);
    assert_int_equal(xs_write(c, "/restart/in-tx", "x"), 0);
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, NULL, 0);
    spawn_daemon();         /* the client waits for it to listen */
    assert_int_equal(xs_write(c, "/restart/in-tx2", "y"), -EAGAIN);
    assert_int_equal(xs_transaction_end(c, 1), -EAGAIN);
    check_value(c, "/restart/a", "1");
    char *v = NULL;
    assert_int_equal(xs_read(c, "/restart/in-tx", &v), -ENOENT);
    /* Outside a transaction: re-sent after the reconnection. */
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, NULL, 0);
    spawn_daemon();
    assert_int_equal(xs_write(c, "/restart/b", "2"), 0);
    check_value(c, "/restart/b", "2");
    assert_int_equal(xs_transaction_begin(c), 0);
    assert_int_equal(xs_write(c, "/restart/c", "3"), 0);
    assert_int_equal(xs_transaction_end(c, 1), 0);
    check_value(c, "/restart/c", "3");
    /* Without reconnection, a restart breaks the connection for good. */
    xs_set_reconnect(c, 0);
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, NULL, 0);
    spawn_daemon();
    assert_int_equal(xs_read(c, "/restart/a", &v), -EIO);
    xs_close(c);
    c = xs_open_wait(sock, 10000);
    assert_non_null(c);
    check_value(c, "/restart/c", "3");
    xs_close(c);
}

/* The commit and XS_INTRODUCE sent with the queued writes (xl create's
 * publish): all nodes and the introduction land; a conflicting commit
 * gets -EAGAIN (its nodes are not there), and so does a transaction the
 * daemon's restart took away; then a retry lands. An introduced domain is
 * the one RELEASE accepts (ENOENT otherwise). */
static void test_commit_introduce(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock), *other = xs_open(sock);
    assert_non_null(c);
    assert_non_null(other);
    assert_int_equal(xs_release(c, 7), -ENOENT);
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/ci/a", "1"), 0);
    assert_int_equal(xs_write(c, "/ci/b", "2"), 0);
    assert_int_equal(xs_commit_introduce(c, 7, 0xfeffd, 1), 0);
    check_value(other, "/ci/a", "1");
    check_value(other, "/ci/b", "2");
    assert_int_equal(xs_release(other, 7), 0);

    /* Conflict: another client changes a node the transaction wrote
     * (its write already with xenstored). */
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/ci/a", "tx"), 0);
    assert_int_equal(xs_write(c, "/ci/new", "tx"), 0);
    check_value(c, "/ci/a", "tx");      /* sends the queue: xenstored has them */
    assert_int_equal(xs_write(other, "/ci/a", "outside"), 0);
    assert_int_equal(xs_commit_introduce(c, 8, 0xfeffd, 1), -EAGAIN);
    check_value(other, "/ci/a", "outside");
    char *v = NULL;
    assert_int_equal(xs_read(other, "/ci/new", &v), -ENOENT);
    xs_release(other, 8);       /* introduced or not: see xs_client.h */

    /* The daemon restarted under the transaction, writes still queued. */
    xs_close(other);
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/ci/after", "1"), 0);
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, NULL, 0);
    spawn_daemon();
    assert_int_equal(xs_commit_introduce(c, 9, 0xfeffd, 1), -EAGAIN);
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/ci/after", "2"), 0);
    assert_int_equal(xs_commit_introduce(c, 9, 0xfeffd, 1), 0);
    check_value(c, "/ci/after", "2");
    assert_int_equal(xs_release(c, 9), 0);
    xs_close(c);
}

/* xs_rm_release (a destroy's teardown): every path removed, a missing one
 * no error, the domain released after them (a second release finds none),
 * and the connection out of its pipeline afterwards (a write is answered
 * at once, not queued). */
static void test_rm_release(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock);
    assert_non_null(c);
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/rr/dom/x", "1"), 0);
    assert_int_equal(xs_write(c, "/rr/lib/y", "2"), 0);
    assert_int_equal(xs_commit_introduce(c, 11, 0xfeffd, 1), 0);
    const char *paths[] = { "/rr/dom", "/rr/missing", "/rr/lib" };
    assert_int_equal(xs_rm_release(c, paths, 3, 11), 0);
    char *v = NULL;
    assert_int_equal(xs_read(c, "/rr/dom/x", &v), -ENOENT);
    assert_int_equal(xs_read(c, "/rr/lib", &v), -ENOENT);
    assert_int_equal(xs_release(c, 11), -ENOENT);
    assert_int_equal(xs_write(c, "/rr/after", "3"), 0);
    check_value(c, "/rr/after", "3");
    xs_close(c);
}

/* xs_pipeline_commit (a migration's rename): the queued writes and the
 * commit land together; a conflicting commit gets -EAGAIN and leaves none
 * of the transaction's writes. */
static void test_pipeline_commit(void **state)
{
    (void)state;
    struct xs_client *c = xs_open(sock), *other = xs_open(sock);
    assert_non_null(c);
    assert_non_null(other);
    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/pc/name", "a"), 0);
    assert_int_equal(xs_write(c, "/pc/vm-name", "a"), 0);
    assert_int_equal(xs_pipeline_commit(c), 0);
    check_value(other, "/pc/name", "a");
    check_value(other, "/pc/vm-name", "a");

    assert_int_equal(xs_transaction_begin(c), 0);
    xs_pipeline_begin(c);
    assert_int_equal(xs_write(c, "/pc/name", "b"), 0);
    assert_int_equal(xs_write(c, "/pc/vm-name", "b"), 0);
    check_value(c, "/pc/name", "b");    /* sends the queue */
    assert_int_equal(xs_write(other, "/pc/name", "outside"), 0);
    assert_int_equal(xs_pipeline_commit(c), -EAGAIN);
    check_value(other, "/pc/name", "outside");
    check_value(other, "/pc/vm-name", "a");
    /* The connection serves plain requests again afterwards. */
    assert_int_equal(xs_write(c, "/pc/after", "1"), 0);
    check_value(other, "/pc/after", "1");
    xs_close(other);
    xs_close(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s XENSTORED\n", argv[0]);
        return 2;
    }
    xenstored = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_transaction),
        cmocka_unit_test(test_pipelined_error),
        cmocka_unit_test(test_read_flushes),
        cmocka_unit_test(test_read_many),
        cmocka_unit_test(test_large_replies),
        cmocka_unit_test(test_long_directory),
        cmocka_unit_test(test_daemon_restart),
        cmocka_unit_test(test_commit_introduce),
        cmocka_unit_test(test_pipeline_commit),
        cmocka_unit_test(test_rm_release),
    };
    return cmocka_run_group_tests(tests, start_daemon, stop_daemon);
}
