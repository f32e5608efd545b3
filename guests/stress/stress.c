/* stress: a guest that loads its host on purpose, in the way its command
 * line names, so the tests can check what a guest's behaviour costs the
 * host (CPU, disk, stalled threads). Each mode prints "stress: <mode>"
 * once it has started.
 *
 *   poll            SCHEDOP_poll with a 1 s timeout on a port that is never
 *                   signalled, forever (must cost no more than blocking)
 *   flood-console   write the PV console as fast as it can, forever
 *   flood-serial    console_io, the UART and port 0xe9 as fast as it can,
 *                   forever
 *   flood-log       hypercalls whose handling the VMM logs
 *                   (GNTTABOP_dump_table, a GSI callback), forever
 *   flood-then-off  64 KiB each to console_io and the PV console, then
 *                   power off (the host must not stall on full pipes)
 *   xs-unread       xenstore requests, never reading a reply, then block
 *   shutdown-N      SCHEDOP_shutdown with reason N (any 0..2^32-1)
 */
#include "guest.h"

#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>
#include <xen/sched.h>
#include <xen/xen.h>

static const char *cmdline(void)
{
    return start_info->cmdline_paddr ? (const char *)(uintptr_t)start_info->cmdline_paddr
                                     : "";
}

static int starts_with(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

/* Sleep without a timeout on a port nothing signals: unlike
 * SCHEDOP_block, events on other ports do not end it. */
static void sleep_forever(void)
{
    evtchn_port_t port = 7;
    for (;;) {
        struct sched_poll sp = { .nr_ports = 1, .timeout = 0 };
        set_xen_guest_handle(sp.ports, &port);
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
    }
}

static void poll_forever(void)
{
    printk("stress: poll\n");
    evtchn_port_t port = 7;     /* unbound: never pending */
    for (;;) {
        struct sched_poll sp = { .nr_ports = 1,
                                 .timeout = xen_system_time() + 1000000000ull };
        set_xen_guest_handle(sp.ports, &port);
        HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_poll, &sp);
    }
}

static void fill_line(char *buf, size_t n, uint64_t i)
{
    int k = snprintf(buf, n, "stress line %llu ", (unsigned long long)i);
    for (size_t j = (size_t)k; j + 1 < n; j++)
        buf[j] = (char)('a' + j % 26);
    buf[n - 1] = '\n';
}

static void flood_console(void)
{
    printk("stress: flood-console\n");
    char line[128];
    for (uint64_t i = 0;; i++) {
        fill_line(line, sizeof(line), i);
        pv_console_write(line, sizeof(line));
    }
}

static void console_io(const char *s, size_t n)
{
    HYPERCALL3(__HYPERVISOR_console_io, CONSOLEIO_write, n, s);
}

static void flood_serial(void)
{
    printk("stress: flood-serial\n");
    char line[1024];
    for (uint64_t i = 0;; i++) {
        fill_line(line, sizeof(line), i);
        console_io(line, sizeof(line));
        uart_write(line, 64);
        debug_write(line, 64);
    }
}

static void flood_log(void)
{
    printk("stress: flood-log\n");
    for (;;) {
        struct gnttab_dump_table dt = { .dom = DOMID_SELF };
        HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_dump_table, &dt, 1);
        /* Callback type 0 (a GSI): not supported, and logged. */
        struct xen_hvm_param p = { .domid = DOMID_SELF,
                                   .index = HVM_PARAM_CALLBACK_IRQ, .value = 5 };
        HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_set_param, &p);
    }
}

static void flood_then_off(void)
{
    printk("stress: flood-then-off\n");
    char line[1024];
    for (unsigned i = 0; i < 64; i++) {
        fill_line(line, sizeof(line), i);
        console_io(line, sizeof(line));
        pv_console_write(line, sizeof(line));
    }
    printk("stress: flooded, powering off\n");
    shutdown(SHUTDOWN_poweroff);
}

/* Requests go in; replies are left in the ring. The relay must hold what
 * it cannot deliver without spinning. */
static void xs_unread(void)
{
    uint64_t pfn, port;
    if (hvm_get_param(HVM_PARAM_STORE_PFN, &pfn) < 0 ||
        hvm_get_param(HVM_PARAM_STORE_EVTCHN, &port) < 0) {
        printk("stress: no xenstore\n");
        sleep_forever();
    }
    struct xenstore_domain_interface *r =
        (struct xenstore_domain_interface *)(uintptr_t)(pfn << 12);
    static const char path[] = "domid";
    struct xsd_sockmsg m = { .type = XS_READ, .req_id = 1, .len = sizeof(path) };
    uint64_t t0 = xen_system_time();
    unsigned sent = 0;
    /* Until the ring stays full for a second: the relay and the daemon
     * have taken all they will take. */
    while (xen_system_time() - t0 < 1000000000ull) {
        XENSTORE_RING_IDX prod = r->req_prod;
        __asm__ volatile("" ::: "memory");
        if (XENSTORE_RING_SIZE - (prod - r->req_cons) < sizeof(m) + sizeof(path)) {
            struct evtchn_send s = { .port = (uint32_t)port };
            evtchn_op(EVTCHNOP_send, &s);
            HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
            continue;
        }
        const char *bytes = (const char *)&m;
        for (unsigned i = 0; i < sizeof(m); i++)
            r->req[MASK_XENSTORE_IDX(prod + i)] = bytes[i];
        for (unsigned i = 0; i < sizeof(path); i++)
            r->req[MASK_XENSTORE_IDX(prod + sizeof(m) + i)] = path[i];
        __asm__ volatile("" ::: "memory");
        r->req_prod = prod + sizeof(m) + sizeof(path);
        struct evtchn_send s = { .port = (uint32_t)port };
        evtchn_op(EVTCHNOP_send, &s);
        sent++;
        t0 = xen_system_time();
    }
    printk("stress: xs-unread: %u requests sent, none read\n", sent);
    sleep_forever();
}

static unsigned long parse_number(const char *s)
{
    unsigned long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (unsigned long)(*s++ - '0');
    return v;
}

void guest_main(void)
{
    const char *cmd = cmdline();
    if (map_shared_info() < 0)
        printk("stress: no shared info\n");
    if (strcmp(cmd, "poll") == 0)
        poll_forever();
    if (strcmp(cmd, "flood-console") == 0)
        flood_console();
    if (strcmp(cmd, "flood-serial") == 0)
        flood_serial();
    if (strcmp(cmd, "flood-log") == 0)
        flood_log();
    if (strcmp(cmd, "flood-then-off") == 0)
        flood_then_off();
    if (strcmp(cmd, "xs-unread") == 0)
        xs_unread();
    if (starts_with(cmd, "shutdown-")) {
        struct sched_shutdown s = { .reason = (unsigned)parse_number(cmd + 9) };
        printk("stress: shutdown reason %u\n", s.reason);
        long rc = HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, &s);
        printk("stress: shutdown returned %ld\n", rc);
        sleep_forever();
    }
    check("known command", 0, "unknown command '%s'", cmd);
    finish("stress");
}
