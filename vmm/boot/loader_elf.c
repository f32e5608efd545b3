/*
 * PVH ELF loader. The image is hostile: every offset, size and count is
 * checked against the file and against guest RAM before use, with overflow
 * in mind. ELF32 and ELF64 are read through one normalised view. Xen's
 * notes come from PT_NOTE segments, or, as in Xen's libelf, from SHT_NOTE
 * sections when no segment holds one.
 */
#include "loader.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <xen/elfnote.h>

#include "hcall_patch.h"

#define MAX_PHDRS 128

struct seg {
    uint32_t type, flags;
    uint64_t offset, filesz, memsz, paddr;
};

/* [off, off+len) inside [0, size) without overflow. */
static bool in_file(size_t size, uint64_t off, uint64_t len)
{
    return off <= size && len <= size - off;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* What the Xen notes of an image told us. */
struct xen_notes {
    unsigned count;         /* Xen notes seen, of any type */
    bool have_entry;
    uint64_t entry;         /* XEN_ELFNOTE_PHYS32_ENTRY */
};

/* Walk one note area (already checked to lie inside the file), recording
 * Xen's notes. A note whose name or descriptor runs past the area ends the
 * walk: what follows it cannot be framed. */
static void scan_notes(const uint8_t *p, uint64_t len, struct xen_notes *xn)
{
    uint64_t off = 0;
    while (len - off >= 12) {
        uint32_t namesz = rd32(p + off), descsz = rd32(p + off + 4);
        uint32_t type = rd32(p + off + 8);
        off += 12;
        uint64_t name_al = ((uint64_t)namesz + 3) & ~3ull;
        uint64_t desc_al = ((uint64_t)descsz + 3) & ~3ull;
        if (name_al > len - off)
            return;
        const uint8_t *name = p + off;
        off += name_al;
        if (desc_al > len - off)
            return;
        const uint8_t *desc = p + off;
        off += desc_al;
        if (namesz != 4 || memcmp(name, "Xen", 4) != 0)
            continue;
        xn->count++;
        if (type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4 && !xn->have_entry) {
            /* Linux writes 8 bytes; the entry is the low 32 bits. */
            xn->entry = rd32(desc);
            xn->have_entry = true;
        }
    }
}

/* The section header table, as the ELF header describes it. */
struct shdr_table {
    uint64_t off;
    unsigned num, entsize;
};

/*
 * Xen's libelf falls back to SHT_NOTE sections when no PT_NOTE segment
 * holds a Xen note; Mini-OS is such an image (its .note section is in no
 * segment). The table is read only then, so a bad table never refuses an
 * image whose segments carry the notes. Returns 0 or a loader_fail().
 */
static int scan_note_sections(const uint8_t *img, size_t size, int elf_class,
                              const struct shdr_table *sh, struct xen_notes *xn,
                              char *err, size_t errlen)
{
    /* e_shnum 0: no table (or extended numbering, which only object files
     * with 65280+ sections need). */
    if (sh->num == 0)
        return 0;
    size_t want = elf_class == 64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    if (sh->entsize != want)
        return loader_fail(err, errlen, -ENOEXEC, "bad section header size %u",
                           sh->entsize);
    if (!in_file(size, sh->off, (uint64_t)sh->num * sh->entsize))
        return loader_fail(err, errlen, -ENOEXEC,
                           "section headers lie outside the file");
    for (unsigned i = 0; i < sh->num; i++) {
        const uint8_t *p = img + sh->off + (uint64_t)i * sh->entsize;
        uint32_t type;
        uint64_t off, len;
        if (elf_class == 64) {
            Elf64_Shdr s;
            memcpy(&s, p, sizeof(s));
            type = s.sh_type; off = s.sh_offset; len = s.sh_size;
        } else {
            Elf32_Shdr s;
            memcpy(&s, p, sizeof(s));
            type = s.sh_type; off = s.sh_offset; len = s.sh_size;
        }
        if (type != SHT_NOTE)
            continue;
        if (!in_file(size, off, len))
            return loader_fail(err, errlen, -ENOEXEC,
                               "note section %u (offset %#llx, size %#llx) lies outside the file",
                               i, (unsigned long long)off, (unsigned long long)len);
        scan_notes(img + off, len, xn);
    }
    return 0;
}

int load_pvh_elf(struct gmem *gm, const uint8_t *img, size_t size,
                 struct loaded_kernel *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (size < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
        return loader_fail(err, errlen, -ENOEXEC, "not an ELF file");
    if (img[EI_DATA] != ELFDATA2LSB)
        return loader_fail(err, errlen, -ENOEXEC, "ELF is not little-endian");

    struct seg segs[MAX_PHDRS];
    unsigned nseg;
    uint64_t phoff;
    unsigned phnum, phentsize;
    struct shdr_table sh;
    if (img[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr eh;
        if (size < sizeof(eh))
            return loader_fail(err, errlen, -ENOEXEC, "ELF header truncated");
        memcpy(&eh, img, sizeof(eh));
        if (eh.e_machine != EM_X86_64)
            return loader_fail(err, errlen, -ENOEXEC, "ELF64 machine %u is not x86-64",
                        eh.e_machine);
        phoff = eh.e_phoff; phnum = eh.e_phnum; phentsize = eh.e_phentsize;
        sh = (struct shdr_table){ eh.e_shoff, eh.e_shnum, eh.e_shentsize };
        if (phentsize != sizeof(Elf64_Phdr))
            return loader_fail(err, errlen, -ENOEXEC, "bad program header size %u",
                        phentsize);
        out->elf_class = 64;
    } else if (img[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr eh;
        if (size < sizeof(eh))
            return loader_fail(err, errlen, -ENOEXEC, "ELF header truncated");
        memcpy(&eh, img, sizeof(eh));
        if (eh.e_machine != EM_386)
            return loader_fail(err, errlen, -ENOEXEC, "ELF32 machine %u is not i386",
                        eh.e_machine);
        phoff = eh.e_phoff; phnum = eh.e_phnum; phentsize = eh.e_phentsize;
        sh = (struct shdr_table){ eh.e_shoff, eh.e_shnum, eh.e_shentsize };
        if (phentsize != sizeof(Elf32_Phdr))
            return loader_fail(err, errlen, -ENOEXEC, "bad program header size %u",
                        phentsize);
        out->elf_class = 32;
    } else {
        return loader_fail(err, errlen, -ENOEXEC, "unknown ELF class %u", img[EI_CLASS]);
    }
    if (phnum == 0)
        return loader_fail(err, errlen, -ENOEXEC, "no program headers");
    if (phnum > MAX_PHDRS)
        return loader_fail(err, errlen, -ENOEXEC, "too many program headers (%u)", phnum);
    if (!in_file(size, phoff, (uint64_t)phnum * phentsize))
        return loader_fail(err, errlen, -ENOEXEC,
                    "program headers lie outside the file");

    nseg = phnum;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
        if (out->elf_class == 64) {
            Elf64_Phdr p;
            memcpy(&p, ph, sizeof(p));
            segs[i] = (struct seg){ p.p_type, p.p_flags, p.p_offset, p.p_filesz,
                                    p.p_memsz, p.p_paddr };
        } else {
            Elf32_Phdr p;
            memcpy(&p, ph, sizeof(p));
            segs[i] = (struct seg){ p.p_type, p.p_flags, p.p_offset, p.p_filesz,
                                    p.p_memsz, p.p_paddr };
        }
    }

    /* Validate every segment before touching guest memory. */
    struct xen_notes xn = { 0 };
    bool have_load = false;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < nseg; i++) {
        const struct seg *s = &segs[i];
        if (s->type == PT_NOTE) {
            if (!in_file(size, s->offset, s->filesz))
                return loader_fail(err, errlen, -ENOEXEC,
                            "note segment %u lies outside the file", i);
            scan_notes(img + s->offset, s->filesz, &xn);
            continue;
        }
        if (s->type != PT_LOAD || s->memsz == 0)
            continue;
        if (!in_file(size, s->offset, s->filesz))
            return loader_fail(err, errlen, -ENOEXEC,
                        "segment %u (offset %#llx, size %#llx) lies outside the file",
                        i, (unsigned long long)s->offset,
                        (unsigned long long)s->filesz);
        if (s->filesz > s->memsz)
            return loader_fail(err, errlen, -ENOEXEC,
                        "segment %u file size exceeds its memory size", i);
        if (!gmem_is_ram(gm, s->paddr, s->memsz))
            return loader_fail(err, errlen, -ENOMEM,
                        "segment %u at %#llx+%#llx does not fit in guest RAM",
                        i, (unsigned long long)s->paddr,
                        (unsigned long long)s->memsz);
        for (unsigned j = 0; j < i; j++) {
            const struct seg *t = &segs[j];
            if (t->type != PT_LOAD || t->memsz == 0)
                continue;
            if (s->paddr < t->paddr + t->memsz && t->paddr < s->paddr + s->memsz)
                return loader_fail(err, errlen, -ENOEXEC,
                            "segments %u and %u overlap in memory", j, i);
        }
        have_load = true;
        if (s->paddr < lo)
            lo = s->paddr;
        if (s->paddr + s->memsz > hi)
            hi = s->paddr + s->memsz;
    }
    if (!have_load)
        return loader_fail(err, errlen, -ENOEXEC, "no loadable segments");
    if (xn.count == 0) {
        int rc = scan_note_sections(img, size, out->elf_class, &sh, &xn,
                                    err, errlen);
        if (rc < 0)
            return rc;
    }
    if (!xn.have_entry)
        return loader_fail(err, errlen, -ENOEXEC,
                    "no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): not a PVH kernel");
    if (xn.entry < lo || xn.entry >= hi)
        return loader_fail(err, errlen, -ENOEXEC,
                    "PVH entry %#llx lies outside the loaded image",
                    (unsigned long long)xn.entry);

    for (unsigned i = 0; i < nseg; i++) {
        const struct seg *s = &segs[i];
        if (s->type != PT_LOAD || s->memsz == 0)
            continue;
        uint8_t *dst = gmem_ptr(gm, s->paddr, s->memsz);
        memcpy(dst, img + s->offset, s->filesz);
        gmem_zero(gm, s->paddr + s->filesz, s->memsz - s->filesz);
        if (s->flags & PF_X)
            out->patched_hypercalls += hcall_patch_segment(dst, s->filesz, s->paddr);
    }
    out->entry = xn.entry;
    out->lo = lo;
    out->hi = hi;
    return 0;
}
