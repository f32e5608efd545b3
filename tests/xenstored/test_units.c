/* Unit tests for xenstored's modules: wire, perms, tree, journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "perms.h"
#include "tree.h"
#include "util.h"
#include "wire.h"

static void test_wire_paths(void **state)
{
    (void)state;
    assert_true(wire_valid_path("/", 2048));
    assert_true(wire_valid_path("/a/b-c_d@e/F9", 2048));
    assert_false(wire_valid_path("", 2048));
    assert_false(wire_valid_path("a/b", 2048));
    assert_false(wire_valid_path("/a/", 2048));
    assert_false(wire_valid_path("/a//b", 2048));
    assert_false(wire_valid_path("/a b", 2048));
    assert_false(wire_valid_path("/a.b", 2048));
    char buf[3000];
    buf[0] = '/';
    memset(buf + 1, 'x', 2048);
    buf[2049] = '\0';
    assert_false(wire_valid_path(buf, 2048));   /* 2049 bytes */
    buf[2048] = '\0';
    assert_true(wire_valid_path(buf, 2048));    /* 2048 bytes */
    /* Below /local/domain/<id>/ the limit counts after the prefix. */
    char dom[3100];
    snprintf(dom, sizeof(dom), "/local/domain/12/%.*s", 2048, buf + 1);
    assert_true(wire_valid_path(dom, 2048));
}

static void test_wire_split(void **state)
{
    (void)state;
    const char *argv[4];
    static const char p[] = "abc\0de\0\0tail";
    assert_int_equal(wire_split(p, sizeof(p) - 1, argv, 4), 3);
    assert_string_equal(argv[0], "abc");
    assert_string_equal(argv[1], "de");
    assert_string_equal(argv[2], "");
    assert_true(wire_onearg("abc", 4));
    assert_false(wire_onearg("abc", 3));
    assert_false(wire_onearg("a\0b", 4));
    assert_false(wire_onearg("", 0));
    unsigned long v;
    assert_true(wire_parse_uint("65535", 65535, &v));
    assert_int_equal(v, 65535);
    assert_false(wire_parse_uint("65536", 65535, &v));
    assert_false(wire_parse_uint("", 10, &v));
    assert_false(wire_parse_uint("1x", 10, &v));
    assert_string_equal(wire_errname(EAGAIN), "EAGAIN");
}

static void test_wire_frame(void **state)
{
    (void)state;
    uint8_t buf[64] = { 0 };
    struct xsd_sockmsg h = { XS_READ, 1, 0, 6 }, out;
    size_t ml;
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + 16, "/tool", 6);
    assert_int_equal(wire_frame(buf, 10, &out, &ml), WIRE_NEED_MORE);
    assert_int_equal(wire_frame(buf, 21, &out, &ml), WIRE_NEED_MORE);
    assert_int_equal(wire_frame(buf, 22, &out, &ml), WIRE_MSG);
    assert_int_equal(ml, 22);
    h.len = XENSTORE_PAYLOAD_MAX + 1;
    memcpy(buf, &h, sizeof(h));
    assert_int_equal(wire_frame(buf, 16, &out, &ml), WIRE_BAD);
}

static void test_perms(void **state)
{
    (void)state;
    struct xs_perm p[3];
    assert_true(perm_parse("n0", &p[0]));
    assert_true(perm_parse("r5", &p[1]));
    assert_true(perm_parse("b7", &p[2]));
    assert_false(perm_parse("x1", &p[2]) || perm_parse("r", &p[2]) ||
                 perm_parse("r-1", &p[2]));
    assert_true(perm_parse("w7", &p[2]));
    char buf[64];
    size_t n = perms_format(p, 3, buf, sizeof(buf));
    assert_int_equal(n, 9);
    assert_memory_equal(buf, "n0\0r5\0w7\0", 9);
    assert_int_equal(perms_format(p, 3, buf, 5), 0);
    /* dom0 privileged, owner, listed, default */
    assert_int_equal(perms_for(p, 3, 9, true, -1),
                     PERM_READ | PERM_WRITE | PERM_OWNER);
    assert_int_equal(perms_for(p, 3, 0, false, -1),
                     PERM_READ | PERM_WRITE | PERM_OWNER);
    assert_int_equal(perms_for(p, 3, 5, false, -1), PERM_READ);
    assert_int_equal(perms_for(p, 3, 7, false, -1), PERM_WRITE);
    assert_int_equal(perms_for(p, 3, 8, false, -1), PERM_NONE);
    assert_int_equal(perms_for(p, 3, 8, false, 5), PERM_READ); /* target */
}

static const struct xs_perm n0 = { 0, PERM_NONE };

static void test_tree(void **state)
{
    (void)state;
    struct tree t;
    tree_init(&t);
    assert_non_null(tree_get(&t, "/tool/xenstored"));
    assert_null(tree_put(&t, "/a/b", &n0, 1, "x", 1)); /* no parent */
    struct node *a = tree_put(&t, "/a", &n0, 1, "", 0);
    assert_non_null(a);
    uint64_t g1 = a->gen;
    assert_non_null(tree_put(&t, "/a/b", &n0, 1, "x", 1));
    assert_true(tree_get(&t, "/a")->gen > g1);   /* child list changed */
    assert_non_null(tree_put(&t, "/a/c", &n0, 1, "y", 1));
    for (int i = 0; i < 1000; i++) {   /* forces rehashing */
        char p[32];
        snprintf(p, sizeof(p), "/a/b/%d", i);
        assert_non_null(tree_put(&t, p, &n0, 1, "", 0));
    }
    a = tree_get(&t, "/a");
    assert_int_equal(a->nchildren, 2);
    assert_string_equal(a->children[0], "b");
    assert_string_equal(a->children[1], "c");
    assert_int_equal(t.owned[0], 3 + 3 + 1000);
    assert_true(tree_del(&t, "/a/b", NULL, NULL));
    assert_null(tree_get(&t, "/a/b/999"));
    assert_int_equal(tree_get(&t, "/a")->nchildren, 1);
    assert_int_equal(t.owned[0], 5);
    assert_null(tree_check(&t));
    /* The checker notices damage. */
    node_add_child(tree_get(&t, "/a"), "ghost");
    assert_non_null(tree_check(&t));
    node_del_child(tree_get(&t, "/a"), "ghost");
    assert_null(tree_check(&t));
    assert_false(tree_del(&t, "/", NULL, NULL));
    assert_true(path_is_child("/a/b", "/a"));
    assert_true(path_is_child("/a", "/a"));
    assert_false(path_is_child("/ab", "/a"));
    assert_true(path_is_child("/x", "/"));
    tree_free(&t);
}

/* Per-owner node bytes follow creation, growth, owner change, deletion
 * and child lists (what the memory quota charges), and the checker
 * notices when they do not. */
static void test_tree_owned_mem(void **state)
{
    (void)state;
    struct tree t;
    tree_init(&t);
    const struct xs_perm d7 = { 7, PERM_NONE }, d8 = { 8, PERM_NONE };
    assert_true(t.owned_mem[7] == 0);
    struct node *a = tree_put(&t, "/a", &d7, 1, "", 0);
    size_t a0 = node_mem(a);
    assert_true(t.owned_mem[7] == a0);
    /* A child owned by 8: its bytes to 8, its name in /a's list to 7. */
    struct node *b = tree_put(&t, "/a/b", &d8, 1, "12345", 5);
    assert_true(t.owned_mem[8] == node_mem(b));
    assert_true(t.owned_mem[7] == a0 + node_child_mem("b"));
    assert_true(node_mem(tree_get(&t, "/a")) == a0 + node_child_mem("b"));
    size_t b0 = node_mem(b);
    tree_put(&t, "/a/b", &d8, 1, "1234567890", 10);     /* grows */
    assert_true(t.owned_mem[8] == b0 + 5);
    tree_put(&t, "/a/b", &d7, 1, "1", 1);               /* new owner */
    assert_true(t.owned_mem[8] == 0);
    assert_null(tree_check(&t));
    assert_true(tree_del(&t, "/a", NULL, NULL));
    assert_true(t.owned_mem[7] == 0);
    assert_null(tree_check(&t));
    t.owned_mem[7] = 1;
    assert_non_null(tree_check(&t));
    tree_free(&t);
}

static char tmpdir[] = "/tmp/xs-unit-XXXXXX";

static int dom_count;
static void dom_cb(void *arg, enum jrec_type type, const struct jdomain_rec *d)
{
    (void)arg;
    if (type == JREC_DOMAIN && d->domid == 9 && d->mfn == 77)
        dom_count++;
    if (type == JREC_RELEASE)
        dom_count--;
}

static off_t file_size(const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static void test_journal(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(tmpdir));
    struct journal j;
    struct tree t;
    tree_init(&t);
    assert_int_equal(journal_open(&j, tmpdir, NULL, &t, dom_cb, NULL), 0);
    struct node *n = tree_put(&t, "/k", &n0, 1, "v1", 2);
    journal_put(&j, n);
    struct xs_perm p2[2] = { { 3, PERM_NONE }, { 4, PERM_READ } };
    n = tree_put(&t, "/k/sub", p2, 2, "bin\0x", 5);
    journal_put(&j, n);
    struct jdomain_rec d = { 9, 77, 3, -1 };
    journal_domain(&j, &d);
    assert_true(journal_pending(&j));
    assert_int_equal(journal_sync(&j), 0);
    assert_false(journal_pending(&j));
    tree_del(&t, "/tool", NULL, NULL);
    journal_del(&j, "/tool");
    assert_int_equal(journal_sync(&j), 0);
    off_t good = file_size("journal");
    journal_close(&j);
    tree_free(&t);

    /* A torn last record (crash mid-write) is dropped and truncated. */
    char path[256];
    snprintf(path, sizeof(path), "%s/journal", tmpdir);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x20\0\0\0garbage", 11), 11);
    close(fd);

    dom_count = 0;
    tree_init(&t);
    assert_int_equal(journal_open(&j, tmpdir, NULL, &t, dom_cb, NULL), 0);
    assert_int_equal(file_size("journal"), good);
    assert_int_equal(dom_count, 1);
    n = tree_get(&t, "/k/sub");
    assert_non_null(n);
    assert_int_equal(n->vlen, 5);
    assert_memory_equal(n->value, "bin\0x", 5);
    assert_int_equal(n->nperms, 2);
    assert_int_equal(n->perms[1].id, 4);
    assert_null(tree_get(&t, "/tool"));

    /* Snapshot, then more journal; both are replayed. */
    assert_int_equal(journal_maybe_compact(&j, &t, NULL, NULL, true), 0);
    n = tree_put(&t, "/after", &n0, 1, "", 0);
    journal_put(&j, n);
    journal_release(&j, 9);
    assert_int_equal(journal_sync(&j), 0);
    journal_close(&j);
    tree_free(&t);

    dom_count = 0;
    tree_init(&t);
    assert_int_equal(journal_open(&j, tmpdir, NULL, &t, dom_cb, NULL), 0);
    assert_non_null(tree_get(&t, "/k/sub"));
    assert_non_null(tree_get(&t, "/after"));
    assert_null(tree_get(&t, "/tool"));
    /* the snapshot had no domain records (no callback): only the
     * release from the journal was seen */
    assert_int_equal(dom_count, -1);
    journal_close(&j);
    tree_free(&t);

    /* A corrupted byte inside a record with an intact one after it is
     * damage: the start is refused and the file left as it is... */
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff", 1, 24 + 8 + 3), 1); /* v2 header */
    close(fd);
    off_t damaged = file_size("journal");
    tree_init(&t);
    assert_int_equal(journal_open(&j, tmpdir, NULL, &t, NULL, NULL), -1);
    journal_close(&j);
    tree_free(&t);
    assert_int_equal(file_size("journal"), damaged);
    /* ... unless salvaging: the record after the damage is kept and the
     * damaged file too. */
    struct journal_opts salvage = { .salvage = true };
    dom_count = 0;
    tree_init(&t);
    assert_int_equal(journal_open(&j, tmpdir, &salvage, &t, dom_cb, NULL), 0);
    assert_true(j.salvaged);
    assert_null(tree_get(&t, "/after"));     /* the damaged record */
    assert_non_null(tree_get(&t, "/k/sub"));  /* snapshot intact */
    assert_int_equal(dom_count, -1);          /* the release after it */
    assert_int_equal(file_size("journal.damaged-1"), damaged);
    journal_close(&j);
    tree_free(&t);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

/* The records of one group come back all or none, wherever a write
 * tears inside them. */
static void test_journal_group(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/xs-unit-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    struct journal j;
    struct tree t;
    tree_init(&t);
    assert_int_equal(journal_open(&j, tmpdir, NULL, &t, NULL, NULL), 0);
    journal_put(&j, tree_put(&t, "/base", &n0, 1, "b", 1));
    assert_int_equal(journal_sync(&j), 0);
    off_t before = file_size("journal");
    journal_group_begin(&j);
    char p[32];
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof(p), "/base/n%d", i);
        journal_put(&j, tree_put(&t, p, &n0, 1, "v", 1));
    }
    journal_group_end(&j);
    assert_int_equal(journal_sync(&j), 0);
    off_t after = file_size("journal");
    journal_close(&j);
    tree_free(&t);

    char path[256];
    snprintf(path, sizeof(path), "%s/journal", tmpdir);
    size_t len;
    char *whole = read_whole_file(path, &len);
    assert_non_null(whole);
    assert_int_equal((off_t)len, after);
    for (off_t cut = before; cut <= after; cut++) {
        int fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, whole, (size_t)cut), cut);
        close(fd);
        tree_init(&t);
        assert_int_equal(journal_open(&j, tmpdir, NULL, &t, NULL, NULL), 0);
        int back = 0;
        for (int i = 0; i < 20; i++) {
            snprintf(p, sizeof(p), "/base/n%d", i);
            back += tree_get(&t, p) != NULL;
        }
        assert_non_null(tree_get(&t, "/base"));
        assert_int_equal(back, cut == after ? 20 : 0);
        journal_close(&j);
        tree_free(&t);
    }
    free(whole);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    log_init("test", NULL, LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_paths),
        cmocka_unit_test(test_wire_split),
        cmocka_unit_test(test_wire_frame),
        cmocka_unit_test(test_perms),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_tree_owned_mem),
        cmocka_unit_test(test_journal),
        cmocka_unit_test(test_journal_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
