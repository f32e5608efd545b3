/*
 * libFuzzer target: the backend-facing grant API (vmm/xen/grant_map.c)
 * against a guest whose grant table holds whatever the input says and
 * which rewrites entries between the backend's calls. The input is a
 * sequence of operations:
 *   0 ref16 flags16 domid8 frame32    the guest writes an entry
 *   1 ref16 mode8                     map (mode bit 0: read-only,
 *                                     bit 1: as domain 5 instead of 0)
 *   2 index8                          unmap a held handle (or a bogus one)
 *   3 ref16 off16 len16 mode8         copy (bit 0: to the guest)
 * Checked: statuses are Xen's codes, a mapped page lies in guest RAM,
 * pin counts match the mappings held, GTF_writing/GTF_reading are set
 * while a mapping lasts and gone after the last unmap (on entries the
 * guest did not rewrite), and ASan sees no access outside the buffers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grant_map.h"
#include "xen_test_env.h"

#define MAX_HELD 256
#define NR_REFS (TEST_GNTTAB_FRAMES * GNTTAB_ENTRIES_PER_FRAME)
#define REF_SPAN (NR_REFS + GNTTAB_ENTRIES_PER_FRAME)   /* some beyond */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    const uint8_t *p;
    size_t left;
};

static uint32_t take(struct input *in, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
        v |= (uint32_t)*in->p++ << (8 * i);
    return v;
}

struct held {
    grant_handle_t handle;
    grant_ref_t ref;
    bool readonly;
};

struct model {
    unsigned ro[NR_REFS], rw[NR_REFS];
    /* The guest wrote the entry while it was pinned, or wrote in-use bits
     * itself: its flags are then its own doing, not ours to check. */
    bool rewritten[NR_REFS];
    bool pinned_once[NR_REFS];  /* checked again at the end */
};

static void check_status(int16_t st)
{
    switch (st) {
    case GNTST_okay: case GNTST_general_error: case GNTST_bad_gntref:
    case GNTST_bad_handle: case GNTST_no_device_space: case GNTST_bad_page:
    case GNTST_bad_copy_arg:
        return;
    default:
        abort();
    }
}

static void check_ref(struct grant_mapper *m, struct domain *d,
                      const struct model *mo, grant_ref_t ref)
{
    if (ref >= NR_REFS || ref >= gnttab_nr_entries(d))
        return;
    unsigned ro, rw;
    grant_pins(m, ref, &ro, &rw);
    if (ro != mo->ro[ref] || rw != mo->rw[ref])
        abort();
    grant_entry_v1_t *e = gnttab_entry(d, ref);
    if (!e || mo->rewritten[ref])
        return;
    uint16_t flags = e->flags;
    if (!!(flags & GTF_writing) != !!rw)
        abort();
    if (!!(flags & GTF_reading) != !!(ro || rw))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size };
    struct domain *d = test_domain_new((unsigned)take(&in, 1) | 1);
    struct grant_mapper *m = &d->grants;
    static struct model mo;
    memset(&mo, 0, sizeof(mo));
    struct held held[MAX_HELD];
    unsigned nr_held = 0;
    const uint8_t *ram = gmem_ptr(&d->mem, 0, TEST_RAM);
    uint8_t *buf = NULL;

    while (in.left) {
        unsigned op = take(&in, 1) % 4;
        grant_ref_t ref = take(&in, 2) % REF_SPAN;
        switch (op) {
        case 0: {
            uint16_t flags = (uint16_t)take(&in, 2);
            domid_t domid = (domid_t)take(&in, 1);
            uint32_t frame = take(&in, 4);
            /* Mostly frames in RAM, so that maps get through. */
            if (!(flags & 0x8000))
                frame %= (TEST_RAM >> GMEM_PAGE_SHIFT) + 16;
            grant_entry_v1_t *e = gnttab_entry(d, ref);
            if (e) {
                e->frame = frame;
                e->domid = domid;
                e->flags = flags;
                mo.rewritten[ref] = mo.ro[ref] || mo.rw[ref] ||
                                    (flags & (GTF_reading | GTF_writing));
            }
            break;
        }
        case 1: {
            unsigned mode = take(&in, 1);
            bool ro = mode & 1;
            domid_t by = mode & 2 ? 5 : 0;
            grant_handle_t h;
            void *page;
            if (nr_held == MAX_HELD)
                break;
            int16_t st = grant_map(m, by, ref, ro, &h, &page);
            check_status(st);
            if (st != GNTST_okay)
                break;
            uintptr_t at = (uintptr_t)page - (uintptr_t)ram;
            if ((uintptr_t)page < (uintptr_t)ram || at >= TEST_RAM ||
                at % GMEM_PAGE_SIZE)
                abort();
            held[nr_held++] = (struct held){ h, ref, ro };
            mo.pinned_once[ref] = true;
            if (ro)
                mo.ro[ref]++;
            else
                mo.rw[ref]++;
            break;
        }
        case 2: {
            unsigned i = ref & 0xff;
            if (i < nr_held) {
                if (grant_unmap(m, held[i].handle) != GNTST_okay)
                    abort();
                if (held[i].readonly)
                    mo.ro[held[i].ref]--;
                else
                    mo.rw[held[i].ref]--;
                ref = held[i].ref;
                held[i] = held[--nr_held];
            } else if (grant_unmap(m, 0x10000 + ref) != GNTST_bad_handle) {
                abort();
            }
            break;
        }
        case 3: {
            uint16_t off = (uint16_t)take(&in, 2);
            uint16_t len = (uint16_t)take(&in, 2) % (GMEM_PAGE_SIZE + 64);
            unsigned mode = take(&in, 1);
            free(buf);
            buf = malloc(len ? len : 1);   /* exactly len: ASan guards it */
            memset(buf, 0x5a, len);
            struct grant_copy_op c = { .ref = ref, .offset = off, .len = len,
                                       .to_guest = mode & 1, .buf = buf };
            grant_copy(m, mode & 2 ? 5 : 0, &c, 1);
            check_status(c.status);
            if (c.status == GNTST_okay && (unsigned)off + len > GMEM_PAGE_SIZE)
                abort();
            break;
        }
        }
        check_ref(m, d, &mo, ref);
    }

    while (nr_held) {
        struct held *h = &held[--nr_held];
        if (grant_unmap(m, h->handle) != GNTST_okay)
            abort();
        if (h->readonly)
            mo.ro[h->ref]--;
        else
            mo.rw[h->ref]--;
    }
    for (grant_ref_t r = 0; r < NR_REFS; r++) {
        if (mo.pinned_once[r])
            check_ref(m, d, &mo, r);
    }
    free(buf);
    test_domain_free(d);
    return 0;
}
