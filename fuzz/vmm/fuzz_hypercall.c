/*
 * libFuzzer target: hypercall dispatch, over the in-memory platform (no
 * KVM). Each input builds a fresh domain, fills a window of guest memory
 * with fuzzer bytes, then makes a sequence of hypercalls from 32- and
 * 64-bit vCPUs with fuzzer registers, the way a hostile guest would. No
 * input may crash, trip a sanitizer, hand a 32-bit guest a result wider
 * than EAX, or leave two Xen pages (shared info, grant frames) at one
 * guest frame.
 *
 * Input: [flags][mem_len lo][mem_len hi][mem_len bytes of guest memory]
 * then call records of CALL_SIZE bytes:
 *   [mode][nr] then 5 x ([kind][8 bytes value])
 * mode: bit 0 64-bit, bit 1 vCPU 1, bit 2 page tables in the fuzzed
 *       window (hostile walks), bit 3 PAE (32-bit paging), bit 4 CPL 3,
 *       bit 5 a write of the hypercall-page MSR (value: the first
 *       argument) instead of a hypercall.
 * kind (low 2 bits): 0 the raw value, 1 a pointer into the window,
 *       2 a small number, 3 the raw value with the top half flipped.
 * Blocking calls (SCHEDOP_block, SCHEDOP_poll) return at once: the domain
 * is marked stopping, as it is after a shutdown. A call that continues
 * (hcall_continue) is re-issued up to 8 times.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "exits.h"
#include "hypercall.h"
#include "log.h"
#include "mem_platform.h"

#define WINDOW_GPA 0x10000ull
#define WINDOW_MAX 0x10000u         /* 64 KiB of fuzzed guest memory */
#define RAM_BYTES (4u << 20)
#define CALL_SIZE (2 + 5 * 9)
#define MAX_CALLS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t arg_value(const uint8_t *p)
{
    uint64_t v = get64(p + 1);
    switch (p[0] & 3) {
    case 1:
        return WINDOW_GPA + (v % WINDOW_MAX);
    case 2:
        return v & 0xff;
    case 3:
        return v ^ 0xffffffff00000000ull;
    default:
        return v;
    }
}

static void set_mode(struct vcpu *v, uint8_t mode)
{
    if (mode & 1) {
        mem_vcpu_long_mode(v);
        if (mode & 4)
            v->pv->sregs.cr3 = WINDOW_GPA;
    } else {
        mem_vcpu_compat_mode(v);
        if (mode & 4) {
            v->pv->sregs.cr0 |= 0x80000000u;        /* PG */
            v->pv->sregs.cr3 = WINDOW_GPA;
            v->pv->sregs.cr4 = (mode & 8) ? 0x20 : 0x10;   /* PAE : PSE */
        }
    }
    v->pv->sregs.cpl = (mode & 16) ? 3 : 0;
}

/* Shared info and every placed grant frame are distinct guest pages. */
static void check_xen_pages(const struct domain *d)
{
    for (unsigned i = 0; i < GNTTAB_DEFAULT_MAX_FRAMES; i++) {
        uint64_t g = d->gnttab.frame_gpa[i];
        if (g == NO_GPA)
            continue;
        if (g == d->shinfo_gpa)
            abort();
        for (unsigned j = i + 1; j < GNTTAB_DEFAULT_MAX_FRAMES; j++)
            if (d->gnttab.frame_gpa[j] == g)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        /* Guest-triggered warnings would drown the fuzzer's own output. */
        FILE *null = fopen("/dev/null", "w");
        log_init("fuzz-hypercall", null, LOG_ERR);
        ready = 1;
    }
    if (size < 3)
        return 0;
    uint8_t flags = data[0];
    size_t mem_len = (size_t)data[1] | ((size_t)data[2] << 8);
    data += 3;
    size -= 3;
    if (mem_len > size)
        mem_len = size;

    struct domain *d = mem_domain_create(1, 2, RAM_BYTES);
    if (!d)
        abort();
    atomic_store(&d->stopping, true);   /* block and poll return at once */
    /* A long call's pieces: a few, not the 2^24 a guest may ask for. */
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        d->vcpu[i].pv->max_continuations = 8;
    d->user_hypercalls = flags & 1;
    gmem_write(&d->mem, WINDOW_GPA, data, mem_len);
    data += mem_len;
    size -= mem_len;

    for (unsigned n = 0; n < MAX_CALLS && size >= CALL_SIZE; n++) {
        uint8_t mode = data[0];
        struct vcpu *v = &d->vcpu[(mode >> 1) & 1];
        set_mode(v, mode);
        uint64_t a[5];
        for (unsigned i = 0; i < 5; i++)
            a[i] = arg_value(data + 2 + 9 * i);
        if (mode & 32) {
            exits_msr(&d->exits, v, XEN_HYPERCALL_MSR, true, &a[0]);
        } else {
            mem_hypercall(v, data[1] & 0x3f, a[0], a[1], a[2], a[3], a[4]);
            if (!(mode & 1) && (v->pv->regs.rax >> 32) != 0)
                abort();            /* a 32-bit guest sees EAX only */
        }
        check_xen_pages(d);
        data += CALL_SIZE;
        size -= CALL_SIZE;
    }
    mem_domain_destroy(d);
    return 0;
}
