/* The standby VMM's hand-over (vmm/standby.c, contract.h): the command
 * line it makes from a good message, and every malformed message refused
 * before anything in it is used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "standby.h"
#include "xenon/contract.h"

/* Send hdr + `args` (len bytes, NULs inside) with fds on one end of a
 * SEQPACKET pair; the other end's number is returned in text in fd_s. */
static int handover(const struct xenon_standby_hdr *h, const char *args, size_t len,
                    const int *fds, int nfds, char fd_s[16])
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    char *msg = malloc(sizeof(*h) + len);
    assert_non_null(msg);
    memcpy(msg, h, sizeof(*h));
    memcpy(msg + sizeof(*h), args, len);
    char cbuf[CMSG_SPACE(8 * sizeof(int))] = { 0 };
    struct iovec iov = { msg, sizeof(*h) + len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds) {
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)iov.iov_len);
    free(msg);
    close(sv[0]);
    snprintf(fd_s, 16, "%d", sv[1]);
    return sv[1];
}

/* A command line as exec leaves it: strings end to end in one block. */
/* The last exec_argv's, freed by the next (LeakSanitizer). */
static char **last_argv;

static char **exec_argv(int argc, const char *const *src)
{
    if (last_argv) {
        free(last_argv[0]);
        free(last_argv);
    }
    size_t len = 0;
    for (int i = 0; i < argc; i++)
        len += strlen(src[i]) + 1;
    char *block = malloc(len), *t = block;
    char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    assert_non_null(block);
    assert_non_null(argv);
    for (int i = 0; i < argc; i++) {
        argv[i] = t;
        t = stpcpy(t, src[i]) + 1;
    }
    last_argv = argv;
    return argv;
}

static int stream_pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

static void test_good(void **state)
{
    (void)state;
    int ready[2], go[2];
    assert_int_equal(stream_pair(ready), 0);
    assert_int_equal(stream_pair(go), 0);
    static const char args[] = "--kernel\0/k\0--domid\0007";
    struct xenon_standby_hdr h = { XENON_STANDBY_MAGIC, 4, 2, 0 };
    int fds[2] = { ready[1], go[1] };
    char fd_s[16];
    handover(&h, args, sizeof(args), fds, 2, fd_s);
    const char *src[] = { "/bin/xenon-vmm", "--launch-trace", "--standby", fd_s,
                          "          " };
    int argc = 5;
    char **argv = exec_argv(argc, src);
    char *area = argv[0];
    assert_int_equal(standby_index(argc, argv), 2);
    assert_int_equal(standby_wait(2, &argc, &argv), 0);
    /* The wrapper's option first, the room gone, then ours, then the fds. */
    assert_int_equal(argc, 10);
    assert_string_equal(argv[0], "/bin/xenon-vmm");
    assert_string_equal(argv[1], "--launch-trace");
    assert_string_equal(argv[2], "--kernel");
    assert_string_equal(argv[3], "/k");
    assert_string_equal(argv[4], "--domid");
    assert_string_equal(argv[5], "7");
    assert_string_equal(argv[6], "--control-fd");
    assert_string_equal(argv[8], "--control-fd");
    assert_null(argv[10]);
    /* The control fds are the received copies: connected to our ends. */
    int a = atoi(argv[7]), b = atoi(argv[9]);
    assert_int_equal(write(a, "r", 1), 1);
    assert_int_equal(write(b, "g", 1), 1);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'r');
    assert_int_equal(read(go[0], &c, 1), 1);
    assert_int_equal(c, 'g');
    /* The old block shows what fits of the new command line (the room was
     * 10 bytes: the program's name and the wrapper's option, with fd_s). */
    assert_string_equal(area, "/bin/xenon-vmm");
    assert_string_equal(area + strlen("/bin/xenon-vmm") + 1, "--launch-trace");
}

/* The message is refused: -1, and no descriptor it carried stays open. */
static void refused(const struct xenon_standby_hdr *h, const char *args, size_t len, int nfds)
{
    int pair[2];
    assert_int_equal(stream_pair(pair), 0);
    int fds[3] = { pair[1], pair[1], pair[1] };
    char fd_s[16];
    handover(h, args, len, fds, nfds, fd_s);
    close(pair[1]);
    const char *src[] = { "xenon-vmm", "--standby", fd_s };
    int argc = 3;
    char **argv = exec_argv(argc, src);
    char **before = argv;
    assert_int_equal(standby_wait(1, &argc, &argv), -1);
    assert_ptr_equal(argv, before);
    assert_int_equal(argc, 3);
    /* Every copy closed: our end sees end of file. */
    char c;
    assert_int_equal(read(pair[0], &c, 1), 0);
    close(pair[0]);
}

static void test_bad(void **state)
{
    (void)state;
    static const char two[] = "--kernel\0/k";
    struct xenon_standby_hdr h = { XENON_STANDBY_MAGIC, 2, 1, 0 };
    struct xenon_standby_hdr bad = h;
    bad.magic ^= 1;
    refused(&bad, two, sizeof(two), 1);                  /* magic */
    bad = h;
    bad.nargs = 3;
    refused(&bad, two, sizeof(two), 1);                  /* too few strings */
    bad.nargs = 1;
    refused(&bad, two, sizeof(two), 1);                  /* too many */
    refused(&h, two, sizeof(two) - 1, 1);                /* last one unended */
    bad = h;
    bad.nfds = 2;
    refused(&bad, two, sizeof(two), 1);                  /* fds not as said */
    refused(&h, two, sizeof(two), 3);                    /* ... either way */
    bad = h;
    bad.flags = 2;
    refused(&bad, two, sizeof(two), 1);                  /* unknown flag */
    bad = h;
    bad.nargs = 100000;
    refused(&bad, two, sizeof(two), 1);                  /* absurd count */
    refused(&h, "", 0, 1);                               /* strings missing */
}

static void test_eof(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    close(sv[0]);
    char fd_s[16];
    snprintf(fd_s, sizeof(fd_s), "%d", sv[1]);
    const char *src[] = { "xenon-vmm", "--standby", fd_s };
    int argc = 3;
    char **argv = exec_argv(argc, src);
    assert_int_equal(standby_wait(1, &argc, &argv), -1);
    const char *none[] = { "xenon-vmm", "--kernel", "k", "--", "--standby" };
    assert_int_equal(standby_index(5, exec_argv(5, none)), 0);
    const char *nofd[] = { "xenon-vmm", "--standby" };
    argc = 2;
    argv = exec_argv(argc, nofd);
    assert_int_equal(standby_wait(1, &argc, &argv), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_eof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
