/* Backend map, unmap and copy of a guest's grants (contract in grant_map.h). */
#include "grant_map.h"
#include "dirty.h"
#include "domain.h"

#include <stdlib.h>
#include <string.h>

/* Xen refuses a pin that would take a count to its top bit. */
#define PIN_LIMIT 0x80

/* Tries of the compare-and-swap before the entry counts as unstable. */
#define SET_STATUS_TRIES 5

void grant_mapper_init(struct grant_mapper *m, struct domain *d)
{
    *m = (struct grant_mapper){ .d = d, .free_head = UINT32_MAX };
}

/* The active entry for ref, allocating its chunk if `create`. */
static struct grant_active *active_get(struct grant_mapper *m, grant_ref_t ref,
                                       bool create)
{
    unsigned chunk = ref / GNTTAB_ENTRIES_PER_FRAME;
    if (chunk >= GNTTAB_DEFAULT_MAX_FRAMES)
        return NULL;
    if (!m->active[chunk]) {
        if (!create)
            return NULL;
        m->active[chunk] = calloc(GNTTAB_ENTRIES_PER_FRAME,
                                  sizeof(struct grant_active));
        if (!m->active[chunk])
            return NULL;
    }
    return &m->active[chunk][ref % GNTTAB_ENTRIES_PER_FRAME];
}

/* The first 32 bits of a v1 entry, flags and domid, as Xen's grant_combo:
 * they are checked and updated as one word. */
static uint32_t combo(uint16_t flags, domid_t domid)
{
    return (uint32_t)flags | (uint32_t)domid << 16;
}

/*
 * Set GTF_reading (and GTF_writing unless readonly) in the guest's entry,
 * checking type and domid unless the ref is already pinned. The guest may
 * write the entry at any moment: the check and the update are one
 * compare-and-swap, redone with what the guest wrote when it fails.
 */
static int16_t set_status(grant_entry_v1_t *e, bool pinned, bool readonly,
                          bool mapping, domid_t by)
{
    if (!e)     /* an unplaced frame: all zeroes, nothing granted */
        return GNTST_general_error;
    uint16_t mask = GTF_type_mask | (mapping ? GTF_sub_page : 0);
    uint32_t *word = (uint32_t *)e;
    uint32_t seen = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    for (int tries = 0;; tries++) {
        uint16_t flags = (uint16_t)seen;
        domid_t domid = (domid_t)(seen >> 16);
        if (!pinned && ((flags & mask) != GTF_permit_access || domid != by))
            return GNTST_general_error;
        if (!readonly && (flags & GTF_readonly))
            return GNTST_general_error;
        uint16_t want = flags | GTF_reading | (readonly ? 0 : GTF_writing);
        if (__atomic_compare_exchange_n(word, &seen, combo(want, domid), false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
            return GNTST_okay;
        if (tries + 1 == SET_STATUS_TRIES)
            return GNTST_general_error;     /* the guest keeps changing it */
    }
}

/* Note our write to grant entry ref in the VMM's dirty log (memory/dirty.h:
 * KVM sees only the guest's writes). */
static void entry_written(struct domain *d, grant_ref_t ref)
{
    if (gmem_dirty_logging(&d->mem))
        gmem_mark_dirty(&d->mem, gnttab_entry_gpa(d, ref),
                        sizeof(grant_entry_v1_t));
}

static void clear_status(struct domain *d, grant_ref_t ref, uint16_t bits)
{
    /* Looked up again: the guest may have moved the frame since the pin. */
    grant_entry_v1_t *e = gnttab_entry(d, ref);
    if (e && bits) {
        __atomic_fetch_and(&e->flags, (uint16_t)~bits, __ATOMIC_SEQ_CST);
        entry_written(d, ref);
    }
}

/* The host page for a guest frame, if it is guest RAM. */
static void *frame_page(struct domain *d, uint32_t frame)
{
    uint64_t gpa = (uint64_t)frame << GMEM_PAGE_SHIFT;
    if (!gmem_is_ram(&d->mem, gpa, GMEM_PAGE_SIZE))
        return NULL;
    return gmem_ptr(&d->mem, gpa, GMEM_PAGE_SIZE);
}

/* Take one pin on ref (Xen's map_grant_ref / acquire_grant_for_copy core).
 * Called with d->lock held. */
static int16_t pin(struct grant_mapper *m, domid_t by, grant_ref_t ref,
                   bool readonly, bool mapping, void **page)
{
    struct domain *d = m->d;
    if (ref >= gnttab_nr_entries(d))
        return GNTST_bad_gntref;
    struct grant_active *act = active_get(m, ref, true);
    if (!act)
        return GNTST_general_error;
    bool pinned = act->ro_pins || act->rw_pins;
    /* A pinned ref serves only the domain that pinned it, and no counter
     * may pass its top bit (Xen checks pin & 0x80808080). */
    if (pinned && (act->domid != by || act->ro_pins >= PIN_LIMIT ||
                   act->rw_pins >= PIN_LIMIT))
        return GNTST_general_error;
    if (!pinned || (!readonly && !act->rw_pins)) {
        grant_entry_v1_t *e = gnttab_entry(d, ref);
        int16_t st = set_status(e, pinned, readonly, mapping, by);
        if (st != GNTST_okay)
            return st;
        entry_written(d, ref);
        if (!pinned) {
            uint32_t frame = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
            void *p = frame_page(d, frame);
            if (!p) {
                clear_status(d, ref, readonly ? GTF_reading
                                              : GTF_reading | GTF_writing);
                return GNTST_bad_page;
            }
            act->frame = frame;
            act->page = p;
            act->domid = by;
        }
    }
    if (readonly)
        act->ro_pins++;
    else
        act->rw_pins++;
    *page = act->page;
    return GNTST_okay;
}

/* Drop one pin taken by pin(). Called with d->lock held. */
static void unpin(struct grant_mapper *m, grant_ref_t ref, bool readonly)
{
    struct grant_active *act = active_get(m, ref, false);
    if (!act)
        return;
    uint16_t clear = 0;
    if (readonly) {
        if (act->ro_pins)
            act->ro_pins--;
    } else {
        if (act->rw_pins)
            act->rw_pins--;
        /* The page may have been written through this pin (a copy to the
         * guest, a writable mapping): dirty, as Xen marks it at unmap. */
        gmem_mark_dirty(&m->d->mem, (uint64_t)act->frame << GMEM_PAGE_SHIFT,
                        GMEM_PAGE_SIZE);
        if (!act->rw_pins)
            clear |= GTF_writing;
    }
    if (!act->ro_pins && !act->rw_pins) {
        clear |= GTF_reading;
        act->page = NULL;
    }
    clear_status(m->d, ref, clear);
}

static bool handle_alloc(struct grant_mapper *m, grant_handle_t *out)
{
    if (m->free_head == UINT32_MAX) {
        if (m->nr_track >= GRANT_MAP_MAX_HANDLES)
            return false;
        uint32_t n = m->nr_track ? m->nr_track * 2 : 64;
        if (n > GRANT_MAP_MAX_HANDLES)
            n = GRANT_MAP_MAX_HANDLES;
        struct grant_mapping *t = realloc(m->track, n * sizeof(*t));
        if (!t)
            return false;
        /* Thread the new handles onto the free list, lowest first. */
        for (uint32_t i = m->nr_track; i < n; i++)
            t[i] = (struct grant_mapping){
                .ref = i + 1 < n ? i + 1 : UINT32_MAX };
        m->free_head = m->nr_track;
        m->track = t;
        m->nr_track = n;
    }
    *out = m->free_head;
    m->free_head = m->track[*out].ref;
    return true;
}

static void handle_free(struct grant_mapper *m, grant_handle_t h)
{
    m->track[h] = (struct grant_mapping){ .ref = m->free_head };
    m->free_head = h;
}

/* grant_map() with d->lock held. */
static int16_t map_locked(struct grant_mapper *m, domid_t by, grant_ref_t ref,
                          bool readonly, grant_handle_t *handle, void **page)
{
    grant_handle_t h;
    if (!handle_alloc(m, &h))
        return GNTST_no_device_space;
    int16_t st = pin(m, by, ref, readonly, true, page);
    if (st == GNTST_okay) {
        m->track[h] = (struct grant_mapping){
            .ref = ref, .in_use = true, .readonly = readonly };
        m->nr_mapped++;
        *handle = h;
    } else {
        handle_free(m, h);
    }
    return st;
}

/* grant_unmap() with d->lock held. */
static int16_t unmap_locked(struct grant_mapper *m, grant_handle_t handle)
{
    if (handle >= m->nr_track || !m->track[handle].in_use)
        return GNTST_bad_handle;
    unpin(m, m->track[handle].ref, m->track[handle].readonly);
    handle_free(m, handle);
    m->nr_mapped--;
    return GNTST_okay;
}

int16_t grant_map(struct grant_mapper *m, domid_t by, grant_ref_t ref,
                  bool readonly, grant_handle_t *handle, void **page)
{
    pthread_mutex_lock(&m->d->lock);
    int16_t st = map_locked(m, by, ref, readonly, handle, page);
    pthread_mutex_unlock(&m->d->lock);
    return st;
}

int16_t grant_unmap(struct grant_mapper *m, grant_handle_t handle)
{
    pthread_mutex_lock(&m->d->lock);
    int16_t st = unmap_locked(m, handle);
    pthread_mutex_unlock(&m->d->lock);
    return st;
}

unsigned grant_map_batch(struct grant_mapper *m, domid_t by,
                         struct grant_map_op *ops, unsigned n)
{
    unsigned failed = 0;
    pthread_mutex_lock(&m->d->lock);
    for (unsigned i = 0; i < n; i++) {
        ops[i].page = NULL;
        ops[i].status = map_locked(m, by, ops[i].ref, ops[i].readonly,
                                   &ops[i].handle, &ops[i].page);
        failed += ops[i].status != GNTST_okay;
    }
    pthread_mutex_unlock(&m->d->lock);
    return failed;
}

void grant_unmap_batch(struct grant_mapper *m, const struct grant_map_op *ops,
                       unsigned n)
{
    pthread_mutex_lock(&m->d->lock);
    for (unsigned i = 0; i < n; i++)
        if (ops[i].status == GNTST_okay)
            unmap_locked(m, ops[i].handle);
    pthread_mutex_unlock(&m->d->lock);
}

unsigned grant_copy(struct grant_mapper *m, domid_t by,
                    struct grant_copy_op *ops, unsigned n)
{
    struct domain *d = m->d;
    unsigned failed = 0;
    for (unsigned i = 0; i < n; i++) {
        struct grant_copy_op *op = &ops[i];
        bool readonly = !op->to_guest;
        void *page = NULL;
        pthread_mutex_lock(&d->lock);
        op->status = pin(m, by, op->ref, readonly, false, &page);
        pthread_mutex_unlock(&d->lock);
        if (op->status != GNTST_okay) {
            failed++;
            continue;
        }
        /* The pin holds the page; the copy needs no lock. */
        if ((unsigned)op->offset + op->len > GMEM_PAGE_SIZE) {
            op->status = GNTST_bad_copy_arg;
            failed++;
        } else if (op->to_guest) {
            memcpy((uint8_t *)page + op->offset, op->buf, op->len);
        } else {
            memcpy(op->buf, (uint8_t *)page + op->offset, op->len);
        }
        pthread_mutex_lock(&d->lock);
        unpin(m, op->ref, readonly);
        pthread_mutex_unlock(&d->lock);
    }
    return failed;
}

void grant_mark_mapped_dirty(struct grant_mapper *m)
{
    struct domain *d = m->d;
    pthread_mutex_lock(&d->lock);
    for (unsigned f = 0; f < GNTTAB_DEFAULT_MAX_FRAMES; f++) {
        const struct grant_active *a = m->active[f];
        for (unsigned i = 0; a && i < GNTTAB_ENTRIES_PER_FRAME; i++)
            if (a[i].rw_pins)
                gmem_mark_dirty(&d->mem, (uint64_t)a[i].frame << GMEM_PAGE_SHIFT,
                                GMEM_PAGE_SIZE);
    }
    pthread_mutex_unlock(&d->lock);
}

void grant_pins(struct grant_mapper *m, grant_ref_t ref, unsigned *ro,
                unsigned *rw)
{
    pthread_mutex_lock(&m->d->lock);
    struct grant_active *act = active_get(m, ref, false);
    *ro = act ? act->ro_pins : 0;
    *rw = act ? act->rw_pins : 0;
    pthread_mutex_unlock(&m->d->lock);
}

void grant_mapper_fini(struct grant_mapper *m)
{
    for (uint32_t h = 0; h < m->nr_track; h++) {
        if (m->track[h].in_use)
            grant_unmap(m, h);
    }
    free(m->track);
    for (unsigned i = 0; i < GNTTAB_DEFAULT_MAX_FRAMES; i++)
        free(m->active[i]);
    grant_mapper_init(m, m->d);
}
