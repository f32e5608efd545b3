/*
 * libFuzzer target: loading saved state (state/state.h), which comes from
 * a file or another host. Any input is loaded into a fresh domain whose
 * console backend holds its contract port, as on a restore; every
 * module's load is reached (evtchn, gnttab, shinfo, timer, vcpu: a stream
 * may hold any of their records). What it loads must be refused or leave
 * a domain the rest of the VMM can use, without a crash or a sanitizer
 * report: every open port's status reads back and closing it succeeds;
 * every grant entry, vcpu_info and the shared info page resolve inside
 * guest memory and the time fields can be written there; and the loaded
 * domain saves again, that stream loads into another fresh domain, and
 * saving that one gives the same records (time aside, which moves on).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/hvm/hvm_vcpu.h>

#include "domain.h"
#include "evtchn.h"
#include "gnttab.h"
#include "shinfo.h"
#include "log.h"
#include "mem_platform.h"
#include "platform.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void notify_nothing(void *opaque) { (void)opaque; }

static struct evtchn_backend console = { .notify = notify_nothing };

static struct domain *fresh(void)
{
    struct domain *d = mem_domain_create(3, 2, 1u << 20);
    if (!d || evtchn_alloc_backend_at(d, XENON_PORT_CONSOLE, &console) < 0)
        abort();
    return d;
}

/* A vCPU's pending-upcall flag is read from its vcpu_info, in guest
 * memory, which does not travel here (and which the time updates of a
 * load may write, when a vcpu_info overlaps shared info): masked. */
static void mask_upcall_flags(uint8_t *p, size_t len)
{
    uint32_t nr;
    memcpy(&nr, p, 4);
    size_t at = 8, fixed = offsetof(struct platform_vcpu_state, xsave);
    size_t rec = 8 + sizeof(vcpu_hvm_context_t);
    for (uint32_t i = 0; i < nr && at + rec + fixed <= len; i++) {
        p[at + 5] = 0;
        uint32_t xl;
        memcpy(&xl, p + at + rec + offsetof(struct platform_vcpu_state, xsave_len), 4);
        at += rec + fixed + xl;
    }
}

/* The records of a stream other than "timer" (whose system time and
 * timers move on between two saves), concatenated. */
static size_t timeless(const struct state_buf *b, uint8_t *out)
{
    size_t at = 0, n = 0;
    while (at < b->len) {
        uint32_t len;
        memcpy(&len, b->data + at + 20, 4);
        if (strcmp((const char *)b->data + at, "timer") != 0) {
            memcpy(out + n, b->data + at, 24 + (size_t)len);
            if (strcmp((const char *)b->data + at, "vcpu") == 0)
                mask_upcall_flags(out + n + 24, len);
            n += 24 + (size_t)len;
        }
        at += 24 + (size_t)len;
    }
    return n;
}

static void use_loaded(struct domain *d)
{
    for (uint32_t ref = 0; ref < gnttab_nr_entries(d); ref++) {
        grant_entry_v1_t *e = gnttab_entry(d, ref);    /* in guest memory */
        if (e)
            (void)__atomic_load_n(&e->flags, __ATOMIC_SEQ_CST);
    }
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        uint8_t *vi = vcpu_info_ptr(d, &d->vcpu[i]);
        if (vi)
            (void)vcpu_upcall_pending(d, &d->vcpu[i]);
    }
    shinfo_update_time(d);
    /* Saved again, the state loads elsewhere and saves the same. */
    struct state_buf one = { 0 }, two = { 0 };
    if (state_save(d, &one) < 0)
        abort();
    struct domain *e = fresh();
    if (state_load(e, one.data, one.len) < 0 || state_save(e, &two) < 0)
        abort();
    uint8_t *a = malloc(one.len + 1), *b = malloc(two.len + 1);
    if (!a || !b)
        abort();
    size_t na = timeless(&one, a), nb = timeless(&two, b);
    if (na != nb || memcmp(a, b, na) != 0)
        abort();
    free(a);
    free(b);
    state_buf_free(&one);
    state_buf_free(&two);
    mem_domain_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        log_init("fuzz-state", fopen("/dev/null", "w"), LOG_ERR);
        ready = 1;
    }
    struct domain *d = fresh();
    if (state_load(d, data, size) == 0) {
        use_loaded(d);
        for (uint32_t p = 1; p < EVTCHN_2L_MAX_64; p++) {
            if (d->evtchn.port[p].state == 0)
                continue;
            struct evtchn_status st;
            /* A guest cannot send on a VIRQ (-EINVAL, as Xen). */
            if (evtchn_status(d, p, &st) < 0 ||
                (evtchn_send(d, p) < 0) != (st.status == EVTCHNSTAT_virq))
                abort();
        }
        for (uint32_t p = 1; p < EVTCHN_2L_MAX_64; p++)
            if (d->evtchn.port[p].state != 0 && evtchn_close(d, p) < 0)
                abort();
    }
    mem_domain_destroy(d);
    return 0;
}
