/*
 * hypercalls: every hypercall the VMM implements, with its success path and
 * its error cases, compared against the error codes Xen gives.
 */
#include "guest.h"

#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/features.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

/* An address no guest RAM or page backs: inside the MMIO hole. */
#define UNMAPPED 0xf8000000ul

struct e820 {
    uint64_t addr, size;
    uint32_t type;
} __attribute__((packed));

static uint8_t scratch[8192] __attribute__((aligned(4096)));

static void test_xen_version(void)
{
    long v = HYPERCALL2(__HYPERVISOR_xen_version, XENVER_version, 0);
    CHECK_EQ("version", v, (4 << 16) | 17);

    char extra[XEN_EXTRAVERSION_LEN];
    CHECK_EQ("extraversion", HYPERCALL2(__HYPERVISOR_xen_version, XENVER_extraversion, extra), 0);
    CHECK("extraversion text", extra[0] == '.');

    char caps[XEN_CAPABILITIES_INFO_LEN];
    CHECK_EQ("capabilities", HYPERCALL2(__HYPERVISOR_xen_version, XENVER_capabilities, caps), 0);
    CHECK("capabilities hvm", memcmp(caps, "hvm-3.0-x86", 11) == 0);

    xen_feature_info_t fi = { .submap_idx = 0 };
    CHECK_EQ("get_features", HYPERCALL2(__HYPERVISOR_xen_version, XENVER_get_features, &fi), 0);
    CHECK("feature callback vector", fi.submap & (1u << XENFEAT_hvm_callback_vector));
    fi.submap_idx = 7;
    HYPERCALL2(__HYPERVISOR_xen_version, XENVER_get_features, &fi);
    CHECK_EQ("feature submap 7 empty", fi.submap, 0);

    CHECK_EQ("pagesize", HYPERCALL2(__HYPERVISOR_xen_version, XENVER_pagesize, 0), 4096);
    xen_domain_handle_t h;
    CHECK_EQ("guest_handle", HYPERCALL2(__HYPERVISOR_xen_version, XENVER_guest_handle, h), 0);
    /* The test runs the VMM with --uuid 00112233-4455-6677-8899-aabbccddeeff. */
    CHECK("guest_handle is the domain's UUID", h[0] == 0x00 && h[1] == 0x11 && h[15] == 0xff);
    CHECK_EQ("commandline is privileged",
             HYPERCALL2(__HYPERVISOR_xen_version, XENVER_commandline, scratch), -XEN_EPERM);
    CHECK_EQ("unknown subop", HYPERCALL2(__HYPERVISOR_xen_version, 99, 0), -XEN_ENOSYS);
    CHECK_EQ("bad buffer", HYPERCALL2(__HYPERVISOR_xen_version, XENVER_extraversion, UNMAPPED), -XEN_EFAULT);
    /* A buffer that starts in RAM and runs off its end. */
    uint64_t ram_end = 0;
    const struct hvm_memmap_table_entry *mm =
        (const void *)(uintptr_t)start_info->memmap_paddr;
    for (unsigned i = 0; i < start_info->memmap_entries; i++)
        if (mm[i].type == XEN_HVM_MEMMAP_TYPE_RAM && mm[i].addr < 0x100000000ull)
            ram_end = mm[i].addr + mm[i].size;
    CHECK_EQ("buffer across end of RAM",
             HYPERCALL2(__HYPERVISOR_xen_version, XENVER_capabilities, ram_end - 16), -XEN_EFAULT);
}

static void test_console_io(void)
{
    static const char msg[] = "console_io says hello\n";
    CHECK_EQ("console_io write",
             HYPERCALL3(__HYPERVISOR_console_io, CONSOLEIO_write, sizeof(msg) - 1, msg), 0);
    CHECK_EQ("console_io read is privileged",
             HYPERCALL3(__HYPERVISOR_console_io, CONSOLEIO_read, 16, scratch), -XEN_EPERM);
    CHECK_EQ("console_io bad pointer",
             HYPERCALL3(__HYPERVISOR_console_io, CONSOLEIO_write, 16, UNMAPPED), -XEN_EFAULT);
    CHECK_EQ("console_io unknown", HYPERCALL3(__HYPERVISOR_console_io, 77, 0, 0), -XEN_ENOSYS);
}

static void test_memory_op(void)
{
    struct e820 map[64];
    struct xen_memory_map mm = { .nr_entries = 64 };
    set_xen_guest_handle(mm.buffer, (void *)map);
    CHECK_EQ("memory_map", HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_memory_map, &mm), 0);
    CHECK("memory_map entries", mm.nr_entries >= 2 && mm.nr_entries == start_info->memmap_entries);
    CHECK("memory_map first is RAM at 0", map[0].addr == 0 && map[0].type == 1);

    struct xen_memory_map one = { .nr_entries = 1 };
    set_xen_guest_handle(one.buffer, (void *)map);
    HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_memory_map, &one);
    CHECK_EQ("memory_map truncates", one.nr_entries, 1);

    struct xen_memory_map bad = { .nr_entries = 64 };
    set_xen_guest_handle(bad.buffer, (void *)UNMAPPED);
    CHECK_EQ("memory_map bad buffer",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_memory_map, &bad), -XEN_EFAULT);

    /* Set a map of our own and read it back. */
    struct e820 mine[2] = { { 0, 0x9f000, 1 }, { 0x100000, 0x1000000, 1 } };
    struct xen_foreign_memory_map fm = { .domid = DOMID_SELF, .map.nr_entries = 2 };
    set_xen_guest_handle(fm.map.buffer, (void *)mine);
    CHECK_EQ("set_memory_map", HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_set_memory_map, &fm), 0);
    mm.nr_entries = 64;
    HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_memory_map, &mm);
    CHECK("memory_map after set", mm.nr_entries == 2 && map[1].size == 0x1000000);
    fm.map.nr_entries = 5000;
    CHECK_EQ("set_memory_map too many",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_set_memory_map, &fm), -XEN_EINVAL);
    fm.map.nr_entries = 2;
    fm.domid = 7;
    CHECK_EQ("set_memory_map other domain",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_set_memory_map, &fm), -XEN_EPERM);

    struct xen_add_to_physmap x = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 1,
        .gpfn = (unsigned long)scratch >> 12,
    };
    CHECK_EQ("add_to_physmap shared_info idx 1",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x), -XEN_EINVAL);
    x.idx = 0;
    x.space = 99;
    CHECK_EQ("add_to_physmap bad space",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x), -XEN_EINVAL);
    x.space = XENMAPSPACE_grant_table;
    x.idx = 1000;
    CHECK_EQ("add_to_physmap grant frame too high",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x), -XEN_EINVAL);
    x.space = XENMAPSPACE_shared_info;
    x.idx = 0;
    x.domid = 9;
    CHECK_EQ("add_to_physmap other domain",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x), -XEN_EPERM);
    CHECK_EQ("add_to_physmap bad pointer",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, UNMAPPED), -XEN_EFAULT);
    CHECK_EQ("map shared info", map_shared_info(), 0);
    /* Shared info in a hole of the physical address space gets a page. */
    x.domid = DOMID_SELF;
    x.gpfn = 0xe0000;   /* 3.5 GiB: in no RAM region of this guest */
    CHECK_EQ("shared info moved into a hole",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x), 0);
    CHECK("shared info kept its contents across the move",
          ((volatile struct shared_info *)0xe0000000ul)->vcpu_info[0].time.tsc_to_system_mul != 0);
    CHECK_EQ("map shared info back", map_shared_info(), 0);

    domid_t self = DOMID_SELF;
    long pages = HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_current_reservation, &self);
    CHECK("current_reservation", pages >= 4096);
    CHECK_EQ("unknown memory_op", HYPERCALL2(__HYPERVISOR_memory_op, 63, 0), -XEN_ENOSYS);
}

static void test_hvm_op(void)
{
    uint64_t v;
    CHECK_EQ("get STORE_PFN", hvm_get_param(HVM_PARAM_STORE_PFN, &v), 0);
    CHECK("store pfn in special area", v >= 0xfeff0 && v < 0xff000);
    CHECK_EQ("get STORE_EVTCHN", hvm_get_param(HVM_PARAM_STORE_EVTCHN, &v), 0);
    CHECK_EQ("store port is 1", v, 1);
    CHECK_EQ("get CONSOLE_EVTCHN", hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &v), 0);
    CHECK_EQ("console port is 2", v, 2);
    CHECK_EQ("get IDENT_PT is not for guests", hvm_get_param(HVM_PARAM_IDENT_PT, &v), -XEN_EPERM);
    CHECK_EQ("get deprecated param", hvm_get_param(HVM_PARAM_PAE_ENABLED, &v), -XEN_EINVAL);
    CHECK_EQ("get param out of range", hvm_get_param(HVM_NR_PARAMS, &v), -XEN_EINVAL);

    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = HVM_PARAM_STORE_PFN, .value = 5 };
    CHECK_EQ("set STORE_PFN is refused", HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_param, &p), -XEN_EPERM);
    p.index = HVM_PARAM_ALTP2M;
    CHECK_EQ("set ALTP2M is read-only", HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_param, &p), -XEN_EEXIST);
    p.index = HVM_PARAM_CALLBACK_IRQ;
    p.value = 0;
    CHECK_EQ("set CALLBACK_IRQ none", HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_param, &p), 0);
    p.domid = 3;
    CHECK_EQ("param of another domain", HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_get_param, &p), -XEN_EPERM);

    struct xen_hvm_evtchn_upcall_vector uv = { .vcpu = 0, .vector = 5 };
    CHECK_EQ("upcall vector below 16",
             HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, &uv), -XEN_EINVAL);
    uv.vector = 0xf3;
    uv.vcpu = 99;
    CHECK_EQ("upcall vector bad vcpu",
             HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, &uv), -XEN_ENOENT);

    struct xen_hvm_get_time t1, t2;
    HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_get_time, &t1);
    HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_get_time, &t2);
    CHECK("get_time advances", t2.now > t1.now && t1.now > 0);
    uint64_t st = xen_system_time();
    CHECK("pvclock agrees with get_time (within 50 ms)",
          st + 50000000ull > t2.now && st < t2.now + 50000000ull);
    CHECK_EQ("unknown hvm_op", HYPERCALL2(__HYPERVISOR_hvm_op, 200, 0), -XEN_ENOSYS);
}

static void test_vcpu_op(void)
{
    CHECK_EQ("is_up vcpu0", HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 0, 0), 1);
    CHECK_EQ("bad vcpu id", HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 64, 0), -XEN_ENOENT);

    struct vcpu_register_vcpu_info ri = {
        .mfn = (unsigned long)scratch >> 12, .offset = 4096 - 32,
    };
    CHECK_EQ("vcpu_info across a page",
             HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, &ri), -XEN_ENXIO);
    ri.offset = 3;
    CHECK_EQ("vcpu_info misaligned",
             HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, &ri), -XEN_ENXIO);
    ri.offset = 64;
    CHECK_EQ("register_vcpu_info",
             HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, &ri), 0);
    struct vcpu_info *vi = (struct vcpu_info *)(scratch + 64);
    CHECK("vcpu_info moved with time", vi->time.tsc_to_system_mul != 0 && vi->evtchn_upcall_pending);
    CHECK_EQ("register_vcpu_info twice",
             HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, &ri), -XEN_EBUSY);

    struct vcpu_set_periodic_timer pt = { .period_ns = 100 };
    CHECK_EQ("periodic timer too fast",
             HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 0, &pt), -XEN_EINVAL);
    pt.period_ns = 10000000;
    CHECK_EQ("periodic timer", HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 0, &pt), 0);
    CHECK_EQ("stop periodic timer", HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), 0);

    struct vcpu_set_singleshot_timer ss = { .timeout_abs_ns = 1, .flags = VCPU_SSHOTTMR_future };
    CHECK_EQ("singleshot in the past",
             HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, &ss), -XEN_ETIME);
    CHECK_EQ("unknown vcpu_op", HYPERCALL3(__HYPERVISOR_vcpu_op, 99, 0, 0), -XEN_ENOSYS);
    CHECK_EQ("up without initialise", HYPERCALL3(__HYPERVISOR_vcpu_op, VCPUOP_up, 0, 0), 0);
}

static void test_timer_and_poll(void)
{
    struct evtchn_bind_virq bv = { .virq = VIRQ_TIMER, .vcpu = 0 };
    CHECK_EQ("bind VIRQ_TIMER", evtchn_op(EVTCHNOP_bind_virq, &bv), 0);
    uint64_t start = xen_system_time();
    uint64_t deadline = start + 20000000ull;    /* 20 ms */
    CHECK_EQ("set_timer_op",
             GUEST_BITS == 64 ? HYPERCALL1(__HYPERVISOR_set_timer_op, deadline)
                              : HYPERCALL2(__HYPERVISOR_set_timer_op,
                                           (uint32_t)deadline, (uint32_t)(deadline >> 32)), 0);
    evtchn_port_t port = bv.port;
    struct sched_poll sp = { .nr_ports = 1, .timeout = start + 5000000000ull };
    set_xen_guest_handle(sp.ports, &port);
    CHECK_EQ("poll", HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp), 0);
    uint64_t waited = xen_system_time() - start;
    CHECK("timer fired after its deadline", waited >= 19000000ull);
    check("timer fired well before the poll timeout", waited < 2000000000ull,
          "waited %llu ns", (unsigned long long)waited);
    CHECK("timer port pending", shared_info->evtchn_pending[port / (sizeof(long) * 8)] &
                                    (1ul << (port % (sizeof(long) * 8))));

    /* Poll with a timeout and nothing pending returns at the timeout. */
    struct evtchn_alloc_unbound au = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    evtchn_op(EVTCHNOP_alloc_unbound, &au);
    port = au.port;
    start = xen_system_time();
    sp.timeout = start + 10000000ull;
    CHECK_EQ("poll with timeout", HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp), 0);
    CHECK("poll waited for its timeout", xen_system_time() - start >= 9000000ull);
    sp.nr_ports = 129;
    CHECK_EQ("poll too many ports", HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp), -XEN_EINVAL);
    port = 5000;
    sp.nr_ports = 1;
    CHECK_EQ("poll invalid port", HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp), -XEN_EINVAL);
    CHECK_EQ("yield", HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0), 0);
    CHECK_EQ("remote_shutdown", HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_remote_shutdown, scratch), -XEN_EPERM);
    CHECK_EQ("unknown sched_op", HYPERCALL2(__HYPERVISOR_sched_op, 77, 0), -XEN_ENOSYS);
}

static void test_grant_table_op(void)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    CHECK_EQ("query_size", HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, &q, 1), 0);
    CHECK("query_size values", q.status == GNTST_okay && q.nr_frames >= 1 && q.max_nr_frames >= q.nr_frames);
    CHECK_EQ("query_size count 2",
             HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_query_size, &q, 2), -XEN_EINVAL);
    struct gnttab_set_version sv = { .version = 2 };
    CHECK_EQ("set_version 2 (max version 1)",
             HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, &sv, 1), -XEN_ENOSYS);
    sv.version = 3;
    CHECK_EQ("set_version 3", HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, &sv, 1), -XEN_EINVAL);
    sv.version = 1;
    CHECK_EQ("set_version 1", HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_set_version, &sv, 1), 0);
    struct gnttab_get_version gv = { .dom = DOMID_SELF };
    HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_get_version, &gv, 1);
    CHECK_EQ("get_version", gv.version, 1);
    struct gnttab_dump_table dt = { .dom = DOMID_SELF };
    CHECK("dump_table", HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_dump_table, &dt, 1) == 0 &&
                        dt.status == GNTST_okay);
    CHECK_EQ("negative count", HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_copy, scratch, -1), -XEN_EINVAL);
    CHECK_EQ("unknown grant op", HYPERCALL3(__HYPERVISOR_grant_table_op, 99, 0, 0), -XEN_ENOSYS);
}

/* The runtime's formatter: a 32-bit guest divides 64-bit numbers by hand. */
static void test_formatting(void)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%llu|%llx|%d|%u", 18446744073709551615ull,
             0x123456789abcdef0ull, -42, 4294967295u);
    CHECK("64-bit numbers format",
          strcmp(buf, "18446744073709551615|123456789abcdef0|-42|4294967295") == 0);
    snprintf(buf, sizeof(buf), "%llu", 10000000000ull);
    CHECK("number above 2^32 formats", strcmp(buf, "10000000000") == 0);
    int n = snprintf(buf, 8, "hello %s", "world");
    CHECK("snprintf truncates, counts all", n == 11 && strcmp(buf, "hello w") == 0);
    n = snprintf(buf, 4, "abcdef%d", 7);
    CHECK("literal run truncated", n == 7 && strcmp(buf, "abc") == 0);
}

#if GUEST_BITS == 64
/* A 64-bit buffer that runs past the top of the address space must not
 * wrap to address 0. The last 2 MiB of the address space are mapped to
 * physical 2 MiB (past this guest's image), and address 0 is mapped too. */
static uint64_t top_pdpt[512] __attribute__((aligned(4096)));
static uint64_t top_pd[512] __attribute__((aligned(4096)));

static void test_wrapping_buffer(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(cr3 & ~0xfffull);
    top_pd[511] = 0x200000 | 0x87;
    top_pdpt[511] = (uintptr_t)top_pd | 7;
    pml4[511] = (uintptr_t)top_pdpt | 7;
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
    volatile uint64_t *top = (volatile uint64_t *)0xfffffffffffffff8ul;
    *top = 0x1122334455667788ull;
    CHECK("the top of the address space is mapped",
          *(volatile uint64_t *)0x3ffff8ul == 0x1122334455667788ull);
    CHECK_EQ("extraversion into a buffer wrapping past 2^64",
             HYPERCALL2(__HYPERVISOR_xen_version, XENVER_extraversion, 0xfffffffffffffff8ul),
             -XEN_EFAULT);
    pml4[511] = 0;
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}
#endif

void guest_main(void)
{
    printk("hypercalls: %d-bit guest\n", GUEST_BITS);
    test_formatting();
    test_xen_version();
    test_console_io();
    test_memory_op();
    test_hvm_op();
    test_vcpu_op();
    test_timer_and_poll();
    test_grant_table_op();
#if GUEST_BITS == 64
    test_wrapping_buffer();
#endif
    CHECK_EQ("unknown hypercall", HYPERCALL0(50), -XEN_ENOSYS);
    CHECK_EQ("hypercall beyond the table", HYPERCALL0(120), -XEN_ENOSYS);
    finish("hypercalls");
}
