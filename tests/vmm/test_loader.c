/*
 * Unit tests for the kernel loaders and the boot information: well-formed
 * images load exactly, and every malformed one gets an error naming its
 * problem with guest memory outside RAM untouched.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <xen/elfnote.h>
#include <xen/xen.h>
#include <xen/arch-x86/hvm/start_info.h>

#include "boot.h"
#include "gmem.h"
#include "hcall_patch.h"
#include "layout.h"
#include "loader.h"
#include "memmap.h"

#define RAM (16u << 20)

struct image {
    uint8_t buf[0x3000];
    size_t size;
};

/* A minimal PVH ELF: one PT_LOAD of text+bss at 1 MiB, one PT_NOTE. */
static void make_elf(struct image *im, int bits)
{
    memset(im, 0, sizeof(*im));
    const size_t note_off = 0x200, text_off = 0x1000;
    uint8_t *note = im->buf + note_off;
    uint32_t nh[3] = { 4, 4, XEN_ELFNOTE_PHYS32_ENTRY };
    memcpy(note, nh, 12);
    memcpy(note + 12, "Xen", 4);
    uint32_t entry = 0x100010;
    memcpy(note + 16, &entry, 4);
    memset(im->buf + text_off, 0x90, 0x100);
    im->size = text_off + 0x100;

    if (bits == 64) {
        Elf64_Ehdr *eh = (Elf64_Ehdr *)im->buf;
        memcpy(eh->e_ident, ELFMAG, SELFMAG);
        eh->e_ident[EI_CLASS] = ELFCLASS64;
        eh->e_ident[EI_DATA] = ELFDATA2LSB;
        eh->e_machine = EM_X86_64;
        eh->e_phoff = sizeof(*eh);
        eh->e_phentsize = sizeof(Elf64_Phdr);
        eh->e_phnum = 2;
        Elf64_Phdr *ph = (Elf64_Phdr *)(im->buf + eh->e_phoff);
        ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = text_off,
                              .p_paddr = 0x100000, .p_filesz = 0x100, .p_memsz = 0x2000 };
        ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = 20 };
    } else {
        Elf32_Ehdr *eh = (Elf32_Ehdr *)im->buf;
        memcpy(eh->e_ident, ELFMAG, SELFMAG);
        eh->e_ident[EI_CLASS] = ELFCLASS32;
        eh->e_ident[EI_DATA] = ELFDATA2LSB;
        eh->e_machine = EM_386;
        eh->e_phoff = sizeof(*eh);
        eh->e_phentsize = sizeof(Elf32_Phdr);
        eh->e_phnum = 2;
        Elf32_Phdr *ph = (Elf32_Phdr *)(im->buf + eh->e_phoff);
        ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = text_off,
                              .p_paddr = 0x100000, .p_filesz = 0x100, .p_memsz = 0x2000 };
        ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = 20 };
    }
}

static Elf64_Phdr *ph64(struct image *im)
{
    return (Elf64_Phdr *)(im->buf + sizeof(Elf64_Ehdr));
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

static int load(void **state, struct image *im, char *err)
{
    struct loaded_kernel k;
    return load_pvh_elf(*state, im->buf, im->size, &k, err, 256);
}

static void test_elf_loads(void **state, int bits)
{
    struct image im;
    make_elf(&im, bits);
    struct gmem *gm = *state;
    memset(gmem_ptr(gm, 0x100000, 0x2000), 0xaa, 0x2000);
    struct loaded_kernel k;
    char err[256] = "";
    assert_int_equal(load_pvh_elf(gm, im.buf, im.size, &k, err, sizeof(err)), 0);
    assert_int_equal(k.entry, 0x100010);
    assert_int_equal(k.lo, 0x100000);
    assert_int_equal(k.hi, 0x102000);
    assert_int_equal(k.elf_class, bits);
    uint8_t *p = gmem_ptr(gm, 0x100000, 0x2000);
    assert_int_equal(p[0], 0x90);
    assert_int_equal(p[0xff], 0x90);
    assert_int_equal(p[0x100], 0);          /* bss zeroed */
    assert_int_equal(p[0x1fff], 0);
}

static void test_elf32_loads(void **state) { test_elf_loads(state, 32); }
static void test_elf64_loads(void **state) { test_elf_loads(state, 64); }

static void expect_error(void **state, struct image *im, const char *what)
{
    char err[256] = "";
    assert_true(load(state, im, err) < 0);
    if (!strstr(err, what))
        fail_msg("error '%s' does not mention '%s'", err, what);
}

static void test_elf_truncated(void **state)
{
    struct image im;
    make_elf(&im, 64);
    im.size = 40;
    expect_error(state, &im, "truncated");
    im.size = 3;
    expect_error(state, &im, "not an ELF");
}

static void test_elf_lies(void **state)
{
    struct image im;

    make_elf(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_phoff = 0xfffffffffffffff0ull;
    expect_error(state, &im, "program headers lie outside");

    make_elf(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_phnum = 5000;
    expect_error(state, &im, "too many program headers");

    make_elf(&im, 64);
    ph64(&im)[0].p_offset = 0xffffffffffffff00ull;  /* offset + size wraps */
    expect_error(state, &im, "lies outside the file");

    make_elf(&im, 64);
    ph64(&im)[0].p_filesz = 0x3000;                 /* beyond memsz */
    ph64(&im)[0].p_memsz = 0x2000;
    expect_error(state, &im, "outside the file");

    make_elf(&im, 64);
    ph64(&im)[0].p_filesz = 0x100;
    ph64(&im)[0].p_memsz = 0x80;
    expect_error(state, &im, "exceeds its memory size");

    make_elf(&im, 64);
    ph64(&im)[0].p_paddr = RAM - 0x1000;            /* runs off the end of RAM */
    expect_error(state, &im, "does not fit in guest RAM");

    make_elf(&im, 64);
    ph64(&im)[0].p_paddr = 0xfffffffffffff000ull;   /* wraps */
    expect_error(state, &im, "does not fit in guest RAM");

    make_elf(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_machine = EM_ARM;
    expect_error(state, &im, "not x86-64");

    make_elf(&im, 64);
    im.buf[EI_CLASS] = 7;
    expect_error(state, &im, "unknown ELF class");
}

static void test_elf_overlap(void **state)
{
    struct image im;
    make_elf(&im, 64);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)im.buf;
    eh->e_phnum = 3;
    ph64(&im)[2] = ph64(&im)[0];
    ph64(&im)[2].p_paddr = 0x101000;                /* inside segment 0's bss */
    expect_error(state, &im, "overlap");
}

static void test_elf_notes(void **state)
{
    struct image im;
    make_elf(&im, 64);
    ph64(&im)[1].p_type = PT_NULL;                  /* no note at all */
    expect_error(state, &im, "no Xen PVH entry note");

    make_elf(&im, 64);
    uint32_t huge = 0xfffffff0u;                    /* namesz running off */
    memcpy(im.buf + 0x200, &huge, 4);
    expect_error(state, &im, "no Xen PVH entry note");

    make_elf(&im, 64);
    ph64(&im)[1].p_filesz = 0x7fffffff;             /* note area off the file */
    expect_error(state, &im, "note segment");

    make_elf(&im, 64);
    uint32_t entry = 0x500000;                      /* outside the image */
    memcpy(im.buf + 0x200 + 16, &entry, 4);
    expect_error(state, &im, "outside the loaded image");
}

/*
 * The image make_elf() builds, with its note moved from the PT_NOTE segment
 * into an SHT_NOTE section, as Mini-OS links it: section headers at 0x300,
 * [0] SHT_NULL, [1] .note at file offset 0x200.
 */
#define SHDR_OFF 0x300

static void make_elf_note_section(struct image *im, int bits)
{
    make_elf(im, bits);
    if (bits == 64) {
        Elf64_Ehdr *eh = (Elf64_Ehdr *)im->buf;
        eh->e_phnum = 1;                            /* drop the PT_NOTE */
        eh->e_shoff = SHDR_OFF;
        eh->e_shentsize = sizeof(Elf64_Shdr);
        eh->e_shnum = 2;
        Elf64_Shdr *sh = (Elf64_Shdr *)(im->buf + SHDR_OFF);
        sh[1] = (Elf64_Shdr){ .sh_type = SHT_NOTE, .sh_offset = 0x200, .sh_size = 20 };
    } else {
        Elf32_Ehdr *eh = (Elf32_Ehdr *)im->buf;
        eh->e_phnum = 1;
        eh->e_shoff = SHDR_OFF;
        eh->e_shentsize = sizeof(Elf32_Shdr);
        eh->e_shnum = 2;
        Elf32_Shdr *sh = (Elf32_Shdr *)(im->buf + SHDR_OFF);
        sh[1] = (Elf32_Shdr){ .sh_type = SHT_NOTE, .sh_offset = 0x200, .sh_size = 20 };
    }
}

static Elf64_Shdr *sh64(struct image *im)
{
    return (Elf64_Shdr *)(im->buf + SHDR_OFF);
}

static void test_note_section_loads(void **state, int bits)
{
    struct image im;
    make_elf_note_section(&im, bits);
    struct loaded_kernel k;
    char err[256] = "";
    assert_int_equal(load_pvh_elf(*state, im.buf, im.size, &k, err, sizeof(err)), 0);
    assert_int_equal(k.entry, 0x100010);
    assert_int_equal(k.elf_class, bits);
}

static void test_note_section32(void **state) { test_note_section_loads(state, 32); }
static void test_note_section64(void **state) { test_note_section_loads(state, 64); }

static void test_note_section_lies(void **state)
{
    struct image im;

    make_elf_note_section(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_shoff = 0xfffffffffffffff0ull;  /* wraps */
    expect_error(state, &im, "section headers lie outside");

    make_elf_note_section(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_shoff = im.size - sizeof(Elf64_Shdr);
    expect_error(state, &im, "section headers lie outside");

    make_elf_note_section(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_shnum = 0xffff;       /* table runs off the file */
    expect_error(state, &im, "section headers lie outside");

    make_elf_note_section(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_shentsize = 8;        /* entries overlap */
    expect_error(state, &im, "bad section header size");

    make_elf_note_section(&im, 64);
    sh64(&im)[1].sh_offset = 0xffffffffffffff00ull; /* offset + size wraps */
    expect_error(state, &im, "note section 1");

    make_elf_note_section(&im, 64);
    sh64(&im)[1].sh_size = im.size;                 /* runs past the end */
    expect_error(state, &im, "note section 1");

    make_elf_note_section(&im, 64);
    uint32_t huge = 0xfffffff0u;                    /* namesz running off */
    memcpy(im.buf + 0x200, &huge, 4);
    expect_error(state, &im, "no Xen PVH entry note");

    make_elf_note_section(&im, 64);
    memcpy(im.buf + 0x200 + 4, &huge, 4);           /* descsz running off */
    expect_error(state, &im, "no Xen PVH entry note");

    make_elf_note_section(&im, 64);
    sh64(&im)[1].sh_size = 19;                      /* descriptor cut short */
    expect_error(state, &im, "no Xen PVH entry note");

    make_elf_note_section(&im, 64);
    sh64(&im)[1].sh_type = SHT_PROGBITS;            /* not a note section */
    expect_error(state, &im, "no Xen PVH entry note");

    make_elf_note_section(&im, 64);
    ((Elf64_Ehdr *)im.buf)->e_shnum = 0;            /* no table at all */
    expect_error(state, &im, "no Xen PVH entry note");
}

/* As in libelf, sections are read only when no note segment holds a Xen
 * note: a bad section table does not matter then, and a segment with Xen
 * notes but no entry is not completed from the sections. */
static void test_note_section_only_as_fallback(void **state)
{
    struct image im;
    make_elf(&im, 64);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)im.buf;
    eh->e_shoff = 0xfffffffffffffff0ull;
    eh->e_shnum = 3;
    eh->e_shentsize = 1;
    struct loaded_kernel k;
    char err[256] = "";
    assert_int_equal(load_pvh_elf(*state, im.buf, im.size, &k, err, sizeof(err)), 0);
    assert_int_equal(k.entry, 0x100010);

    /* Segment: a Xen GUEST_OS note. Section: the entry. Xen refuses. */
    make_elf_note_section(&im, 64);
    eh->e_phnum = 2;
    ph64(&im)[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x280, .p_filesz = 20 };
    uint32_t nh[3] = { 4, 4, XEN_ELFNOTE_GUEST_OS };
    memcpy(im.buf + 0x280, nh, 12);
    memcpy(im.buf + 0x28c, "Xen\0Mini", 8);
    expect_error(state, &im, "no Xen PVH entry note");
}

static void test_pvh_start_info(void **state)
{
    struct gmem *gm = *state;
    struct image im;
    make_elf(&im, 32);
    struct loaded_kernel k;
    char err[256] = "";
    assert_int_equal(load_pvh_elf(gm, im.buf, im.size, &k, err, sizeof(err)), 0);

    static const uint8_t initrd[5000] = { [0] = 0x42, [4999] = 0x24 };
    struct xen_e820entry map[3] = {
        { 0, 0xa0000, 1 }, { 0x100000, RAM - 0x100000, 1 }, { 0xfeff0000, 0x4000, 2 },
    };
    struct boot_opts bo = { .cmdline = "console=hvc0 root=/dev/xvda", .initrd = initrd,
                            .initrd_size = sizeof(initrd), .e820 = map, .nr_e820 = 3 };
    struct boot_entry be;
    assert_int_equal(boot_setup(gm, &k, &bo, &be, err, sizeof(err)), 0);
    assert_int_equal(be.rip, 0x100010);
    const struct hvm_start_info *si = gmem_ptr(gm, be.rbx, sizeof(*si));
    assert_non_null(si);
    assert_int_equal(si->magic, XEN_HVM_START_MAGIC_VALUE);
    assert_int_equal(si->version, 1);
    assert_int_equal(si->memmap_entries, 3);
    const struct hvm_memmap_table_entry *mm =
        gmem_ptr(gm, si->memmap_paddr, 3 * sizeof(*mm));
    assert_int_equal(mm[1].addr, 0x100000);
    assert_int_equal(mm[2].type, 2);
    assert_string_equal((const char *)gmem_ptr(gm, si->cmdline_paddr, 1),
                        "console=hvc0 root=/dev/xvda");
    assert_int_equal(si->nr_modules, 1);
    const struct hvm_modlist_entry *mod = gmem_ptr(gm, si->modlist_paddr, sizeof(*mod));
    assert_int_equal(mod->size, sizeof(initrd));
    assert_true(mod->paddr >= k.hi);
    const uint8_t *rd = gmem_ptr(gm, mod->paddr, sizeof(initrd));
    assert_int_equal(rd[0], 0x42);
    assert_int_equal(rd[4999], 0x24);

    /* An initrd larger than RAM is refused with a message. */
    bo.initrd_size = RAM;
    assert_true(boot_setup(gm, &k, &bo, &be, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "initrd"));
}

static void test_gmem_bounds(void **state)
{
    struct gmem *gm = *state;
    assert_non_null(gmem_ptr(gm, 0, 1));
    assert_non_null(gmem_ptr(gm, RAM - 1, 1));
    assert_null(gmem_ptr(gm, RAM - 1, 2));
    assert_null(gmem_ptr(gm, RAM, 1));
    assert_null(gmem_ptr(gm, UINT64_MAX, 2));       /* wraps */
    assert_null(gmem_ptr(gm, 0x1000, UINT64_MAX));
    assert_non_null(gmem_ptr(gm, LAYOUT_SPECIAL_START, 4096));
    assert_false(gmem_is_ram(gm, LAYOUT_SPECIAL_START, 1));
    assert_int_equal(gmem_add_region(gm, 0x1000, 4096, GMEM_XEN_PAGE, NULL), -EEXIST);
    assert_int_equal(gmem_add_region(gm, 0xe0000000, 4096, GMEM_XEN_PAGE, NULL), 0);
    assert_non_null(gmem_ptr(gm, 0xe0000000, 4096));
    assert_int_equal(gmem_add_region(gm, 0xe0000001, 4096, GMEM_XEN_PAGE, NULL), -EINVAL);
}

/* gmem_zero zeroes exactly its range; the whole pages in it are given back
 * (no longer resident), the partial ones at its ends are written. */
static void test_gmem_zero(void **state)
{
    struct gmem *gm = *state;
    const uint64_t base = 0x200000, span = 5 * 4096;
    uint8_t *p = gmem_ptr(gm, base, span);
    memset(p, 0xaa, span);
    assert_int_equal(gmem_zero(gm, base + 0x800, 3 * 4096), 0);
    /* Residency first: reading a hole brings a page back. */
    unsigned char res[5];
    assert_int_equal(mincore(p, span, res), 0);
    assert_true(res[0] & 1);            /* partly zeroed: written */
    assert_false(res[1] & 1);           /* whole pages: holes */
    assert_false(res[2] & 1);
    assert_true(res[3] & 1);
    assert_true(res[4] & 1);            /* outside */
    for (uint64_t i = 0; i < span; i++)
        assert_int_equal(p[i], i >= 0x800 && i < 0x800 + 3 * 4096 ? 0 : 0xaa);
    /* Within one page, and out of bounds. */
    assert_int_equal(gmem_zero(gm, base + 4096 * 4 + 1, 2), 0);
    assert_int_equal(p[4096 * 4 + 1], 0);
    assert_int_equal(p[4096 * 4 + 3], 0xaa);
    assert_int_equal(gmem_zero(gm, RAM - 1, 2), -EFAULT);
    assert_int_equal(gmem_zero(gm, base, 0), 0);
}

static void test_hcall_patch(void **state)
{
    (void)state;
    uint8_t text[128];
    memset(text, 0xcc, sizeof(text));
    static const uint8_t intel[] = { 0x0f, 0x01, 0xc1, 0xe9, 1, 2, 3, 4 };
    static const uint8_t amd_ibt[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x01, 0xd9, 0xc3 };
    static const uint8_t inline_call[] = { 0x0f, 0x01, 0xc1, 0x48, 0x85, 0xc0 };
    memcpy(text + 0, intel, sizeof(intel));             /* aligned stub */
    memcpy(text + 16, amd_ibt, sizeof(amd_ibt));        /* aligned, endbr */
    memcpy(text + 32, inline_call, sizeof(inline_call)); /* no return after */
    memcpy(text + 52, intel, sizeof(intel));            /* not aligned */
    assert_int_equal(hcall_patch_segment(text, sizeof(text), 0x1000000), 2);
    static const uint8_t out[] = { 0xe7, 0x5e, 0x90 };
    assert_memory_equal(text, out, 3);
    assert_int_equal(text[3], 0xe9);
    assert_memory_equal(text + 20, out, 3);
    assert_memory_equal(text + 32, inline_call, sizeof(inline_call));
    assert_memory_equal(text + 52, intel, sizeof(intel));
    /* Alignment is judged at the guest address, not the buffer offset. */
    uint8_t shifted[64];
    memset(shifted, 0xcc, sizeof(shifted));
    memcpy(shifted + 8, intel, sizeof(intel));
    assert_int_equal(hcall_patch_segment(shifted, sizeof(shifted), 0x1000008), 1);
    assert_int_equal(shifted[8], 0xe7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_elf32_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf64_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_lies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_section32, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_section64, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_section_lies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_note_section_only_as_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pvh_start_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gmem_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gmem_zero, setup, teardown),
        cmocka_unit_test(test_hcall_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
