/*
 * Unit tests for the bzImage payload path (vmm/boot/decompress.c and
 * load_bzimage_pvh): a bzImage whose payload is a gzip'd PVH ELF loads as
 * PVH; a payload that lies (outside the file, truncated, corrupt, larger
 * than the guest, not an ELF, an ELF with no PVH note) is refused with a
 * message naming the problem. Payloads are made here with zlib, which the
 * VMM links anyway; every other format is booted end to end by
 * bzimage_pvh.py with Debian's own compressors.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xen/elfnote.h>
#include <zlib.h>

#include "decompress.h"
#include "gmem.h"
#include "layout.h"
#include "loader.h"

#define RAM (16u << 20)
#define PM_OFF (5 * 512)                /* four setup sectors + the boot sector */
#define PAYLOAD_HDR 0x40                /* where the payload starts in the pm part */

/* A minimal PVH ELF64: one PT_LOAD at 1 MiB and a PT_NOTE with the entry. */
static size_t make_elf(uint8_t *buf, size_t cap, int with_note)
{
    assert_true(cap >= 0x1100);
    memset(buf, 0, 0x1100);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_machine = EM_X86_64;
    eh->e_phoff = sizeof(*eh);
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 2;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + eh->e_phoff);
    ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000,
                          .p_paddr = 0x100000, .p_filesz = 0x100, .p_memsz = 0x1000 };
    ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x200, .p_filesz = 20 };
    uint32_t nh[3] = { 4, 4, with_note ? XEN_ELFNOTE_PHYS32_ENTRY : 99 };
    memcpy(buf + 0x200, nh, 12);
    memcpy(buf + 0x20c, "Xen", 4);
    uint32_t entry = 0x100010;
    memcpy(buf + 0x210, &entry, 4);
    memset(buf + 0x1000, 0x90, 0x100);
    return 0x1100;
}

static size_t gzip_into(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    z_stream zs = { 0 };
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

struct bz {
    uint8_t buf[PM_OFF + PAYLOAD_HDR + 0x2000];
    size_t size, payload_len;
};

/* A bzImage (protocol 2.15) whose payload is the given bytes. */
static void make_bzimage(struct bz *b, const uint8_t *payload, size_t len)
{
    memset(b, 0, sizeof(*b));
    assert_true(PM_OFF + PAYLOAD_HDR + len <= sizeof(b->buf));
    b->buf[0x1f1] = 4;
    b->buf[0x1fe] = 0x55;
    b->buf[0x1ff] = 0xaa;
    b->buf[0x201] = 0x6a;
    memcpy(b->buf + 0x202, "HdrS", 4);
    uint16_t ver = 0x020f;
    memcpy(b->buf + 0x206, &ver, 2);
    uint32_t off = PAYLOAD_HDR, plen = (uint32_t)len;
    memcpy(b->buf + 0x248, &off, 4);
    memcpy(b->buf + 0x24c, &plen, 4);
    memcpy(b->buf + PM_OFF + PAYLOAD_HDR, payload, len);
    b->size = PM_OFF + PAYLOAD_HDR + len;
    b->payload_len = len;
}

/* A bzImage carrying a gzip'd PVH ELF (with or without its note). */
static void make_gz_bzimage(struct bz *b, int with_note)
{
    uint8_t elf[0x1100], gz[0x2000];
    size_t n = make_elf(elf, sizeof(elf), with_note);
    make_bzimage(b, gz, gzip_into(elf, n, gz, sizeof(gz)));
}

static int setup(void **state)
{
    struct gmem *gm = calloc(1, sizeof(*gm));
    assert_int_equal(gmem_init(gm, RAM, LAYOUT_NR_SPECIAL), 0);
    *state = gm;
    return 0;
}

static int teardown(void **state)
{
    gmem_destroy(*state);
    free(*state);
    return 0;
}

static void expect_refused(void **state, const struct bz *b, const char *words)
{
    struct loaded_kernel k;
    char err[256] = "";
    assert_true(load_kernel(*state, b->buf, b->size, &k, err, sizeof(err)) < 0);
    if (!strstr(err, words))
        fail_msg("error '%s' does not name '%s'", err, words);
}

static void test_gzip_payload_boots_as_pvh(void **state)
{
    struct bz b;
    make_gz_bzimage(&b, 1);
    struct loaded_kernel k;
    char err[256] = "";
    assert_int_equal(load_kernel(*state, b.buf, b.size, &k, err, sizeof(err)), 0);
    assert_int_equal(k.entry, 0x100010);
    assert_int_equal(*(uint8_t *)gmem_ptr(*state, 0x100000, 1), 0x90);
}

static void test_payload_outside_file(void **state)
{
    struct bz b;
    make_gz_bzimage(&b, 1);
    uint32_t big = 0x7fffffff;
    memcpy(b.buf + 0x24c, &big, 4);
    expect_refused(state, &b, "outside the");
    make_gz_bzimage(&b, 1);
    memcpy(b.buf + 0x248, &big, 4);
    expect_refused(state, &b, "outside the");
}

static void test_truncated_and_corrupt(void **state)
{
    struct bz b;
    make_gz_bzimage(&b, 1);
    b.size -= b.payload_len / 2;                    /* the file is cut short */
    uint32_t plen = (uint32_t)(b.payload_len - b.payload_len / 2);
    memcpy(b.buf + 0x24c, &plen, 4);
    expect_refused(state, &b, "gzip payload ends early");

    make_gz_bzimage(&b, 1);
    for (size_t i = 20; i < b.payload_len - 8; i++)  /* past the gzip header */
        b.buf[PM_OFF + PAYLOAD_HDR + i] ^= 0x5a;
    expect_refused(state, &b, "gzip payload is corrupt");
}

static void test_unknown_and_not_elf(void **state)
{
    struct bz b;
    static const uint8_t junk[64] = { 0x12, 0x34, 0x56 };
    make_bzimage(&b, junk, sizeof(junk));
    expect_refused(state, &b, "unknown compression");

    uint8_t text[0x400], gz[0x800];
    memset(text, 'A', sizeof(text));
    make_bzimage(&b, gz, gzip_into(text, sizeof(text), gz, sizeof(gz)));
    expect_refused(state, &b, "is not an ELF vmlinux");

    make_gz_bzimage(&b, 0);
    expect_refused(state, &b, "vmlinux inside the bzImage (gzip)");
}

static void test_old_protocol(void **state)
{
    struct bz b;
    make_gz_bzimage(&b, 1);
    uint16_t old = 0x0206;
    memcpy(b.buf + 0x206, &old, 2);
    expect_refused(state, &b, "2.08 or later");
}

/* A payload that inflates past the cap is stopped at the cap: 1 MiB of
 * zeros compresses to about 1 KiB. */
static void test_output_capped(void **state)
{
    size_t n = 1u << 20;
    uint8_t *zeros = calloc(1, n), gz[0x2000], *out = NULL;
    size_t len = gzip_into(zeros, n, gz, sizeof(gz)), out_len = 0;
    char err[256] = "";
    assert_int_equal(decompress(gz, len, n - 1, &out, &out_len, err, sizeof(err)), -EFBIG);
    assert_non_null(strstr(err, "would exceed"));
    assert_null(out);
    assert_int_equal(decompress(gz, len, n, &out, &out_len, err, sizeof(err)), 0);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, zeros, n);
    free(out);
    free(zeros);
}

static void test_format_names(void **state)
{
    static const uint8_t xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0 }, zst[] = { 0x28, 0xb5, 0x2f, 0xfd },
                         lz4[] = { 0x02, 0x21, 0x4c, 0x18 }, bz2[] = { 'B', 'Z', 'h' };
    assert_string_equal(decompress_format(xz, sizeof(xz)), "xz");
    assert_string_equal(decompress_format(zst, sizeof(zst)), "zstd");
    assert_string_equal(decompress_format(lz4, sizeof(lz4)), "lz4");
    assert_string_equal(decompress_format(bz2, sizeof(bz2)), "bzip2");
    assert_null(decompress_format(xz, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gzip_payload_boots_as_pvh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_outside_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_not_elf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_protocol, setup, teardown),
        cmocka_unit_test(test_output_capped),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
