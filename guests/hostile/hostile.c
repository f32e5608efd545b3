/*
 * hostile: hundreds of thousands of bad hypercalls. A crafted pass sends
 * every hypercall and sub-op bad pointers (NULL, unmapped, across the end
 * of RAM, into the special pages, non-canonical); a random pass then sends
 * random hypercall numbers, sub-ops and arguments, with argument structures
 * full of random values (huge counts, invalid ports and refs, frame numbers
 * anywhere), and now and then fills its console and xenstore ring pages
 * with random bytes and kicks their backends. The VMM must answer every
 * call with an error or a harmless success and never crash; afterwards
 * the guest checks Xen still works.
 *
 * To stay alive itself, the guest never makes the calls that legitimately
 * end or park it (shutdown, block, poll, vcpu down, bringing up a vCPU with
 * a random context), and no random address or frame number lands in its
 * own image at 40 MiB. It reports on the debug port, since random calls
 * may close its console channel.
 */
#include "guest.h"

#include <xen/event_channel.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

/* Our image (linked at 40 MiB, see guests/meson.build), plus a guard below
 * it: Xen writes arrays at a base we pass (frame lists, memory maps), so a
 * base just below the image would reach into it. */
#define IMAGE_LO 0x2780000ull
#define IMAGE_HI 0x2a00000ull
#define DEFAULT_COUNT 100000u

/* 16 KiB of scratch that arguments point into, then a 4 KiB pad: a
 * structure Xen writes at a pointer near the end runs over into the pad,
 * not into our variables. */
#define SCRATCH_WORDS 2048
static uint64_t scratch[SCRATCH_WORDS + 512] __attribute__((aligned(4096)));
static uint64_t ram_end;

/* Keep random values out of our own image, as addresses and as frames. */
static unsigned long safe(uint64_t v)
{
    if ((v >= IMAGE_LO && v < IMAGE_HI) ||
        (v >= (IMAGE_LO >> 12) && v < (IMAGE_HI >> 12)))
        v += IMAGE_HI;
    return (unsigned long)v;
}

static unsigned long scratch_ptr(uint64_t r)
{
    return (unsigned long)scratch + (uint32_t)r % (SCRATCH_WORDS * 8);
}

static unsigned long bad_value(void)
{
    uint64_t r = rand64();
    switch (r & 15) {
    case 0: case 1: return (r >> 8) & 0xff;                  /* small */
    case 2: return safe((r >> 8) & 0xffff);                  /* mid */
    case 3: return 0xffffffffu;
    case 4: return (unsigned long)~0ull;
    case 5: return 0x7fffffffu + ((r >> 8) & 3);
    case 6: return (unsigned long)safe(r >> 4);              /* anything */
    case 7: case 8: return scratch_ptr(r >> 8);              /* our memory */
    case 9: return (unsigned long)(ram_end - ((r >> 8) & 63)); /* across RAM end */
    case 10: return 0xf8000000ul + ((r >> 8) & 0xfff);       /* MMIO hole */
    case 11: return 0xfeffc000ul + ((r >> 8) & 0x3fff);      /* special pages */
    case 12: return ((unsigned long)scratch >> 12) + ((r >> 8) & 1); /* our frame */
    case 13: return 0xfee00000ul + ((r >> 8) & 0xfff);       /* local APIC */
    case 14: return (unsigned long)safe((uint32_t)(r >> 16));
    default: return (unsigned long)(sizeof(long) == 8 ? 0x8000000000000000ull + (r >> 8)
                                                      : (r >> 8) & 0xffffffff);
    }
}

/* Guest code is emulated here (~0.5 us an instruction): refresh a few
 * random words at a time rather than the whole buffer. */
static void refill_scratch(unsigned words)
{
    for (unsigned i = 0; i < words; i++) {
        unsigned at = (uint32_t)rand64() % SCRATCH_WORDS;
        scratch[at] = sizeof(long) == 8 ? bad_value()
                                        : ((uint64_t)bad_value() << 32) | bad_value();
    }
}

/* Calls that would legitimately end, park or crash this guest. */
static int self_destructive(unsigned nr, unsigned long cmd)
{
    if (nr == __HYPERVISOR_sched_op)
        return cmd == SCHEDOP_block || cmd == SCHEDOP_shutdown || cmd == SCHEDOP_poll;
    if (nr == __HYPERVISOR_vcpu_op)
        return cmd == VCPUOP_down || cmd == VCPUOP_up || cmd == VCPUOP_initialise;
    return 0;
}

static unsigned long long calls;

static void call(unsigned nr, unsigned long cmd, unsigned long a2,
                 unsigned long a3, unsigned long a4, unsigned long a5)
{
    if (self_destructive(nr, cmd))
        return;
    if (nr == __HYPERVISOR_console_io)
        a2 &= 63;       /* keep the serial log readable */
    /* Xen walks a grant op array writing a status into every element: a
     * huge count over our own RAM would overwrite this guest. Huge counts
     * still go to the VMM, over an array base that is not memory. */
    if (nr == __HYPERVISOR_grant_table_op && a3 > 64)
        a2 = 0xf8000000ul;
    hypercall(nr, cmd, a2, a3, a4, a5);
    calls++;
}

static const unsigned implemented[] = {
    __HYPERVISOR_set_timer_op, __HYPERVISOR_memory_op, __HYPERVISOR_xen_version,
    __HYPERVISOR_console_io, __HYPERVISOR_grant_table_op, __HYPERVISOR_vcpu_op,
    __HYPERVISOR_sched_op, __HYPERVISOR_event_channel_op, __HYPERVISOR_hvm_op,
};

static void crafted(void)
{
    const unsigned long ptrs[] = {
        0, 0xf8000000ul, (unsigned long)(ram_end - 1), (unsigned long)(ram_end - 8),
        0xfeffc000ul - 4, 0xfeffcffful, (unsigned long)~0ul,
        (unsigned long)(sizeof(long) == 8 ? 0x0000800000000000ull : 0xfffff000ul),
    };
    for (unsigned h = 0; h < sizeof(implemented) / sizeof(implemented[0]); h++)
        for (unsigned long cmd = 0; cmd < 32; cmd++)
            for (unsigned p = 0; p < sizeof(ptrs) / sizeof(ptrs[0]); p++) {
                /* Pointer as the struct argument, then as the count/port slot. */
                call(implemented[h], cmd, ptrs[p], 1, 0, 0);
                call(implemented[h], cmd, 0, ptrs[p], 0xffffffffu, 0);
                call(implemented[h], cmd, ptrs[p], ptrs[p], ptrs[p], ptrs[p]);
            }
    /* Structures that are valid memory holding nothing but bad values. */
    refill_scratch(2048);
    for (unsigned round = 0; round < 40; round++) {
        refill_scratch(64);
        for (unsigned h = 0; h < sizeof(implemented) / sizeof(implemented[0]); h++)
            for (unsigned long cmd = 0; cmd < 32; cmd++)
                call(implemented[h], cmd, scratch_ptr(rand64() & ~7ull),
                     scratch_ptr(rand64()), (rand64() & 1) ? 1 : bad_value(), 0);
    }
}

/* The shared rings are guest memory too: fill the console and xenstore
 * ring pages (data and indices) with random bytes and kick their backends,
 * which must clamp what they read and carry on. */
static void scribble_rings(void)
{
    uint64_t pfn;
    for (unsigned param = 0; param < 2; param++) {
        if (hvm_get_param(param ? HVM_PARAM_STORE_PFN : HVM_PARAM_CONSOLE_PFN, &pfn))
            continue;
        uint64_t *ring = (uint64_t *)(uintptr_t)(pfn << 12);
        for (unsigned i = 0; i < 8; i++)
            ring[(uint32_t)rand64() % 512] = rand64();
        /* Indices at the top of both layouts. */
        ring[0x800 / 8 + (rand64() & 3)] = rand64();
        ring[0xc00 / 8 + (rand64() & 3)] = rand64();
        struct evtchn_send snd = { .port = param ? 1 : 2 };
        evtchn_op(EVTCHNOP_send, &snd);
        calls++;
    }
}

static void random_calls(unsigned long long count)
{
    while (calls < count) {
        if ((calls & 15) == 0)
            refill_scratch(16);
        if ((calls & 255) == 0)
            scribble_rings();
        uint64_t r = rand64();
        unsigned nr = (r & 3) ? implemented[(uint32_t)(r >> 2) % 9u] : (unsigned)((r >> 8) & 63);
        unsigned long cmd = (r & 0x30000) ? (uint32_t)(r >> 20) % 40u : bad_value();
        call(nr, cmd, bad_value(), bad_value(), bad_value(), bad_value());
    }
}

static unsigned long long parse_count(void)
{
    const char *s = (const char *)(uintptr_t)start_info->cmdline_paddr;
    unsigned long long n = 0;
    if (!s || memcmp(s, "count=", 6) != 0)
        return DEFAULT_COUNT;
    for (s += 6; *s >= '0' && *s <= '9'; s++)
        n = n * 10 + (unsigned)(*s - '0');
    return n ? n : DEFAULT_COUNT;
}

void guest_main(void)
{
    printk_to_debug_port = 1;
    const struct hvm_memmap_table_entry *mm =
        (const void *)(uintptr_t)start_info->memmap_paddr;
    for (unsigned i = 0; i < start_info->memmap_entries; i++)
        if (mm[i].type == XEN_HVM_MEMMAP_TYPE_RAM && mm[i].addr < 0x100000000ull)
            ram_end = mm[i].addr + mm[i].size;
    unsigned long long count = parse_count();
    printk("hostile: %d-bit guest, %llu bad hypercalls\n", GUEST_BITS, count);

    crafted();
    printk("hostile: %llu crafted calls done\n", calls);
    random_calls(count);
    printk("hostile: %llu calls done\n", calls);

    CHECK("made the calls", calls >= count);
    long v = HYPERCALL2(__HYPERVISOR_xen_version, XENVER_version, 0);
    CHECK_EQ("xen_version still answers", v, (4 << 16) | 17);
    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    long rc = evtchn_op(EVTCHNOP_bind_ipi, &ipi);
    check("event channels still answer", rc == 0 || rc == -28 /* ENOSPC */, "rc %ld", rc);
    finish("hostile");
}
