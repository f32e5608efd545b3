/* Unit tests for the xcfg API around the parser (the parser itself is
 * checked against libxlutil by test_cfg_oracle). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"

static void test_parse_file(void **state)
{
    char path[] = "/tmp/xenon-cfg-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "name = \"f\"\nvcpus = 2\n", *s;
    struct xcfg *cfg;
    long l;

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cfg = xcfg_parse_file(path, stderr);
    unlink(path);
    assert_non_null(cfg);
    assert_string_equal(cfg->source, path);
    assert_int_equal(xcfg_get_string(cfg, "name", &s, 0), 0);
    assert_string_equal(s, "f");
    assert_int_equal(xcfg_get_long(cfg, "vcpus", &l, 0), 0);
    assert_int_equal(l, 2);
    assert_int_equal(xcfg_get_long(cfg, "memory", &l, 0), ESRCH);
    xcfg_free(cfg);
}

static void test_missing_file(void **state)
{
    char *msgs;
    size_t sz;
    FILE *m = open_memstream(&msgs, &sz);

    (void)state;
    assert_null(xcfg_parse_file("/nonexistent/x.cfg", m));
    fclose(m);
    assert_string_equal(msgs, "/nonexistent/x.cfg: unable to open "
                        "configuration file: No such file or directory\n");
    free(msgs);
}

static void test_parse_data_errors(void **state)
{
    char *msgs;
    size_t sz;
    FILE *m = open_memstream(&msgs, &sz);
    const char *bad = "a = 1\nb = foo\nc = [1,\n";

    (void)state;
    assert_null(xcfg_parse_data("d.cfg", bad, strlen(bad), m));
    fclose(m);
    assert_string_equal(msgs,
        "d.cfg:2: config parsing error near `foo': syntax error, unexpected "
        "IDENT, expecting STRING or NUMBER or '['\n"
        "d.cfg:3: config parsing error near `': syntax error, unexpected "
        "$end, expecting ']'\n");
    free(msgs);
    /* silent when there is no report stream */
    assert_null(xcfg_parse_data("d.cfg", bad, strlen(bad), NULL));
}

static void test_lists(void **state)
{
    const char *text = "l = ['a', [1, 2], 'c']\nl += ['d']\ns = 'x'\n";
    struct xcfg *cfg = xcfg_parse_data("l.cfg", text, strlen(text), stderr);
    const struct xcfg_value *l, *inner;
    char **sl;
    int n;

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(xcfg_get_list(cfg, "l", &l, &n, 0), 0);
    assert_int_equal(n, 4);
    assert_string_equal(xcfg_list_item(l, 0), "a");
    assert_null(xcfg_list_item(l, 1));
    inner = xcfg_list_value(l, 1);
    assert_int_equal(inner->type, XCFG_LIST);
    assert_string_equal(xcfg_list_item(inner, 1), "2");
    assert_string_equal(xcfg_list_item(l, 3), "d");
    assert_null(xcfg_list_item(l, 4));
    assert_null(xcfg_list_item(l, -1));
    assert_int_equal(xcfg_get_list_as_string_list(cfg, "l", &sl, &n, 0), 0);
    assert_int_equal(n, 4);
    assert_string_equal(sl[0], "a");
    assert_null(sl[1]);
    assert_string_equal(sl[2], "c");
    assert_null(sl[4]);
    xcfg_string_list_free(sl, n);
    assert_int_equal(xcfg_get_list(cfg, "s", NULL, NULL, 1), EINVAL);
    assert_int_equal(xcfg_get_list(cfg, "nope", NULL, NULL, 1), ESRCH);
    xcfg_free(cfg);
}

static void test_bounded(void **state)
{
    const char *text = "a = 5\nb = 0x10\nc = 99999999999999999999\n";
    struct xcfg *cfg = xcfg_parse_data("b.cfg", text, strlen(text), NULL);
    long l;

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(xcfg_get_bounded_long(cfg, "a", 0, 4, &l, 1), EINVAL);
    assert_int_equal(xcfg_get_bounded_long(cfg, "a", 0, 5, &l, 1), 0);
    assert_int_equal(l, 5);
    assert_int_equal(xcfg_get_long(cfg, "b", &l, 1), 0);
    assert_int_equal(l, 16);
    assert_int_equal(xcfg_get_long(cfg, "c", &l, 1), ERANGE);
    xcfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_parse_data_errors),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
