/* xl's save-file header and libxl's stream: the writer's bytes are what xl
 * writes, the reader hands back the config and hands libxc's part to its
 * reader at the right byte, and refuses every damaged header or record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "domain_config.h"
#include "savefile.h"
#include "xenon/xen_stream_format.h"

static const char config[] = "{\"c_info\":{\"type\":\"pvh\",\"name\":\"g\"}}";
#define INNER "INNERIMG"            /* stands in for libxc's image */

static char err[256];

/* libxc's part for these tests: 8 bytes that must read INNER. */
static int inner_reader(void *ctx, struct stream_source *in, char *e,
                        size_t elen)
{
    char buf[8];
    int *calls = ctx;
    (*calls)++;
    if (stream_get(in, buf, sizeof(buf)) || memcmp(buf, INNER, 8)) {
        snprintf(e, elen, "inner image wrong");
        return -EINVAL;
    }
    return 0;
}

static struct stream_membuf build(const char *cfg, const char *recipe)
{
    struct stream_membuf m = { 0 };
    struct stream_sink s;
    stream_sink_mem(&s, &m);
    assert_int_equal(savefile_write_start(&s, cfg), 0);
    for (const char *c = recipe; *c; c++) {
        struct xen_stream_rhdr rh = { 0, 0 };
        switch (*c) {
        case 'L':
            assert_int_equal(savefile_write_libxc_context(&s), 0);
            assert_int_equal(stream_put(&s, INNER, 8), 0);
            break;
        case 'E': assert_int_equal(savefile_write_end(&s), 0); break;
        case 'O':                   /* unknown optional, 3 bytes + pad */
            rh = (struct xen_stream_rhdr){ 0x80000007, 3 };
            stream_put(&s, &rh, sizeof(rh));
            stream_put(&s, "abc\0\0\0\0\0", 8);
            break;
        case 'X': rh.type = LIBXL_REC_EMULATOR_CONTEXT; rh.length = 8;
            stream_put(&s, &rh, sizeof(rh)); stream_put(&s, "\2\0\0\0\0\0\0\0", 8); break;
        case 'C': rh.type = LIBXL_REC_CHECKPOINT_END; stream_put(&s, &rh, sizeof(rh)); break;
        case 'U': rh.type = 0x6; stream_put(&s, &rh, sizeof(rh)); break;
        default: fail();
        }
    }
    return m;
}

static int read_buf(const uint8_t *p, size_t len, struct savefile_info *info,
                    int *calls, size_t *consumed)
{
    struct stream_memsrc ms = { p, len, 0 };
    struct stream_source src;
    stream_source_mem(&src, &ms);
    *calls = 0;
    int rc = savefile_read(&src, inner_reader, calls, info, err, sizeof(err));
    if (consumed)
        *consumed = ms.off;
    return rc;
}

static void expect_refused(struct stream_membuf m, const char *what)
{
    struct savefile_info info;
    int calls;
    int rc = read_buf(m.data, m.len, &info, &calls, NULL);
    if (rc != -EINVAL || !strstr(err, what))
        fail_msg("expected a refusal naming \"%s\", got %d: %s", what, rc, err);
    free(m.data);
}

/* The bytes xl writes (xl_saverestore.c): magic, 0x01020304, flags
 * STREAMV2|JSON, 0, optional length = 4 + config with its NUL. */
static void test_layout(void **state)
{
    (void)state;
    struct stream_membuf m = build(config, "LE");
    struct xl_savefile_header h;
    memcpy(&h, m.data, sizeof(h));
    assert_memory_equal(h.magic, "Xen saved domain, xl format\n \0 \r\0", 32);
    assert_int_equal(h.byteorder, 0x01020304);
    assert_int_equal(h.mandatory_flags, 3);
    assert_int_equal(h.optional_flags, 0);
    assert_int_equal(h.optional_data_len, 4 + sizeof(config));
    uint32_t clen;
    memcpy(&clen, m.data + 48, 4);
    assert_int_equal(clen, sizeof(config));
    assert_string_equal((char *)m.data + 52, config);
    size_t l = 52 + sizeof(config);
    assert_memory_equal(m.data + l, "LibxlFmt\0\0\0\2\0\0\0\0", 16);
    assert_memory_equal(m.data + l + 16, "\1\0\0\0\0\0\0\0" INNER
                        "\0\0\0\0\0\0\0\0", 24);
    assert_int_equal(m.len, l + 16 + 24);
    free(m.data);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct stream_membuf m = build(config, "OLOE");
    struct savefile_info info;
    int calls;
    size_t used;
    assert_int_equal(read_buf(m.data, m.len, &info, &calls, &used), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(used, m.len);
    assert_string_equal(info.config_json, config);
    assert_int_equal(info.config_len, strlen(config));
    assert_false(info.legacy);
    savefile_info_free(&info);
    free(m.data);

    /* no config: flags STREAMV2 only, config NULL */
    m = build(NULL, "LE");
    struct xl_savefile_header h;
    memcpy(&h, m.data, sizeof(h));
    assert_int_equal(h.mandatory_flags, XL_MANDATORY_FLAG_STREAMV2);
    assert_int_equal(h.optional_data_len, 4);
    assert_int_equal(read_buf(m.data, m.len, &info, &calls, &used), 0);
    assert_null(info.config_json);
    savefile_info_free(&info);
    free(m.data);
}

static void test_truncated(void **state)
{
    (void)state;
    struct stream_membuf m = build(config, "LE");
    struct savefile_info info;
    int calls;
    for (size_t len = 0; len < m.len; len++) {
        int rc = read_buf(m.data, len, &info, &calls, NULL);
        if (rc != -EINVAL || (!strstr(err, "truncated") && !strstr(err, "inner")))
            fail_msg("prefix %zu: %d %s", len, rc, err);
    }
    free(m.data);
}

static void put32(struct stream_membuf *m, size_t off, uint32_t v)
{
    memcpy(m->data + off, &v, 4);
}

static void test_xl_header(void **state)
{
    (void)state;
    struct stream_membuf m;
    size_t lx = 52 + sizeof(config);        /* libxl header */
    m = build(config, "LE"); m.data[5] ^= 1; expect_refused(m, "xl header: wrong magic");
    m = build(config, "LE"); m.data[30] = 'x'; expect_refused(m, "wrong magic");
    m = build(config, "LE"); put32(&m, 32, 0x04030201); expect_refused(m, "byte order");
    m = build(config, "LE"); put32(&m, 36, 7); expect_refused(m, "unknown mandatory flags 0x4");
    m = build(config, "LE"); put32(&m, 36, 1); expect_refused(m, "legacy");
    m = build(config, "LE"); put32(&m, 40, 1); expect_refused(m, "unknown optional flags");
    m = build(config, "LE"); put32(&m, 44, 5u << 20); expect_refused(m, "over our bound");
    m = build(config, "LE"); put32(&m, 48, sizeof(config) + 1);
    expect_refused(m, "xl optional data: config length");
    m = build(config, "LE"); m.data[52 + 3] = 0; expect_refused(m, "has a NUL at byte 3");
    m = build(config, "LE"); m.data[lx - 1] = '}'; expect_refused(m, "not NUL-terminated");
    m = build(config, "LE"); put32(&m, 36, 2); expect_refused(m, "not JSON");
    m = build(NULL, "LE"); put32(&m, 36, 3); expect_refused(m, "JSON flag set but no config");
    m = build(config, "LE"); m.data[lx] = 'l'; expect_refused(m, "libxl header: bad ident");
    m = build(config, "LE"); m.data[lx + 11] = 3; expect_refused(m, "libxl header: version 3");
    m = build(config, "LE"); m.data[lx + 15] = 1; expect_refused(m, "big-endian");
    m = build(config, "LE"); m.data[lx + 15] = 4; expect_refused(m, "reserved option bits");
}

static void test_records(void **state)
{
    (void)state;
    struct stream_membuf m;
    size_t r1 = 52 + sizeof(config) + 16;   /* the first record */
    expect_refused(build(config, "E"), "libxl END (record 1");
    expect_refused(build(config, "E"), "before LIBXC_CONTEXT");
    expect_refused(build(config, "LLE"), "LIBXC_CONTEXT (record 2");
    expect_refused(build(config, "XLE"), "EMULATOR_CONTEXT (record 1");
    expect_refused(build(config, "LCE"), "CHECKPOINT_END (record 2");
    expect_refused(build(config, "LUE"), "unknown mandatory record type 0x6");
    m = build(config, "LE"); put32(&m, r1 + 4, 8); expect_refused(m, "LIBXC_CONTEXT (record 1");
    m = build(config, "LE"); put32(&m, r1 + 16 + 4, 8); expect_refused(m, "END (record 2");
    m = build(config, "OLE"); m.data[r1 + 8 + 4] = 1; expect_refused(m, "non-zero padding");
    m = build(config, "LE"); m.data[r1 + 8] = 'X'; expect_refused(m, "inner image wrong");
}

/* The config written into a save file comes back from its JSON with
 * its disks, vifs and actions, as restore and migrate build the domain. */
static void test_config_json(void **state)
{
    (void)state;
    static const char cfg[] =
        "name = \"dev\"\ntype = \"pvh\"\nkernel = \"/k\"\nmemory = 32\nvcpus = 2\n"
        "cmdline = \"ip=10.0.0.2 disk\"\non_poweroff = \"preserve\"\n"
        "on_reboot = \"rename-restart\"\n"
        "disk = [ \"format=raw,vdev=xvda,access=rw,target=/img/a,b.img\",\n"
        "         \"format=qcow2,vdev=xvdb,access=ro,target=/img/c.qcow2\",\n"
        "         \"vdev=hdc,devtype=cdrom,access=ro\" ]\n"
        "vif = [ \"mac=00:16:3e:12:34:56,bridge=br0,ip=10.0.0.2,mtu=1400\", \"bridge=br1\" ]\n";
    struct domain_config a, b;
    domain_config_init(&a);
    assert_int_equal(domain_config_parse("t.cfg", cfg, strlen(cfg), NULL, 0, stderr, &a), 0);
    char *json = domain_config_to_json(&a);
    assert_non_null(json);
    assert_int_equal(savefile_config_from_json(json, &b, stderr), 0);
    assert_string_equal(b.name, "dev");
    assert_string_equal(b.kernel, "/k");
    assert_string_equal(b.cmdline, "ip=10.0.0.2 disk");
    assert_int_equal(b.max_vcpus, 2);
    assert_int_equal(b.target_memkb, 32 * 1024);
    assert_int_equal(b.on_poweroff, a.on_poweroff);
    assert_int_equal(b.on_reboot, a.on_reboot);
    assert_memory_equal(b.uuid, a.uuid, sizeof(a.uuid));
    assert_int_equal(b.num_disks, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(b.disks[i].vdev, a.disks[i].vdev);
        assert_int_equal(b.disks[i].format, a.disks[i].format);
        assert_int_equal(b.disks[i].readwrite, a.disks[i].readwrite);
        assert_int_equal(b.disks[i].is_cdrom, a.disks[i].is_cdrom);
    }
    assert_string_equal(b.disks[0].pdev_path, "/img/a,b.img");
    assert_null(b.disks[2].pdev_path && *b.disks[2].pdev_path ? b.disks[2].pdev_path : NULL);
    assert_int_equal(b.num_nics, 2);
    assert_memory_equal(b.nics[0].mac, a.nics[0].mac, 6);
    assert_string_equal(b.nics[0].bridge, "br0");
    assert_string_equal(b.nics[0].ip, "10.0.0.2");
    assert_int_equal(b.nics[0].mtu, 1400);
    assert_string_equal(b.nics[1].bridge, "br1");
    free(json);
    domain_config_dispose(&a);
    domain_config_dispose(&b);
}

/* What no xl wrote: each refused with a message, nothing half-built. */
static void test_config_json_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json",
        "[1, 2]",
        "{\"c_info\":{\"name\":\"a\\\"b\",\"type\":\"pvh\"}}",      /* a quote */
        "{\"c_info\":{\"name\":\"g\",\"type\":\"pvh\"},\"b_info\":{\"kernel\":\"/k\"},"
        "\"disks\":[{\"vdev\":\"xvda\",\"pdev_path\":\"/a\\nb\"}]}",     /* a newline */
        "{\"c_info\":{\"name\":\"g\",\"type\":\"pvh\"},\"b_info\":{\"kernel\":\"/k\"},"
        "\"nics\":[{\"bridge\":\"br0,script=/evil\"}]}",                  /* a comma */
        "{\"c_info\":{\"name\":\"g\",\"type\":\"pvh\"},\"b_info\":{\"kernel\":\"/k\"},"
        "\"disks\":[7]}",                                               /* not an object */
        "{\"c_info\":{\"name\":\"g\",\"type\":\"pvh\"},\"b_info\":{\"kernel\":\"/k\","
        "\"max_vcpus\":100000}}",                                       /* xl.cfg refuses it */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct domain_config dc;
        char *msg = NULL;
        size_t n = 0;
        FILE *e = open_memstream(&msg, &n);
        assert_int_equal(savefile_config_from_json(bad[i], &dc, e), -1);
        fclose(e);
        assert_true(strstr(msg, "xl header") != NULL);
        free(msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_xl_header),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_config_json_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
