/*
 * gnttab: a guest's own grant table. It maps grant frame 0, writes grant
 * entries, and has Xen copy through them (GNTTABOP_copy), checking the
 * permission rules and Xen's status codes.
 */
#include "guest.h"

#include <xen/errno.h>
#include <xen/grant_table.h>
#include <xen/memory.h>

static grant_entry_v1_t gnttab[512] __attribute__((aligned(4096)));
static uint8_t src_page[4096] __attribute__((aligned(4096)));
static uint8_t dst_page[4096] __attribute__((aligned(4096)));

static long copy(struct gnttab_copy *c, unsigned n)
{
    return HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_copy, c, n);
}

void guest_main(void)
{
    printk("gnttab: %d-bit guest\n", GUEST_BITS);
    uint32_t a, b, c, d;
    cpuid(0x40000004, 0, &a, &b, &c, &d);
    domid_t self = (domid_t)c;

    struct xen_add_to_physmap x = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_grant_table, .idx = 0,
        .gpfn = (unsigned long)gnttab >> 12,
    };
    gnttab[3].flags = 0xdead;       /* the frame replaces what was there */
    CHECK_EQ("map grant frame 0", HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x), 0);
    CHECK_EQ("new grant frame is zeroed", gnttab[3].flags, 0);

    struct gnttab_setup_table st = { .dom = DOMID_SELF, .nr_frames = 1 };
    xen_pfn_t frames[4];
    set_xen_guest_handle(st.frame_list, frames);
    CHECK_EQ("setup_table", HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, &st, 1), 0);
    CHECK("setup_table reports our frame", st.status == GNTST_okay &&
          frames[0] == (xen_pfn_t)((unsigned long)gnttab >> 12));
    st.nr_frames = 1000;
    HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_setup_table, &st, 1);
    CHECK_EQ("setup_table too many frames", st.status, GNTST_general_error);

    for (unsigned i = 0; i < sizeof(src_page); i++)
        src_page[i] = (uint8_t)(i * 7 + 3);
    /* ref 8: read-write grant of dst_page to ourselves; ref 9: read-only. */
    gnttab[8].domid = self;
    gnttab[8].frame = (uint32_t)((unsigned long)dst_page >> 12);
    gnttab[8].flags = GTF_permit_access;
    gnttab[9] = gnttab[8];
    gnttab[9].flags = GTF_permit_access | GTF_readonly;
    gnttab[10] = gnttab[8];
    gnttab[10].domid = self + 1;    /* granted to someone else */

    struct gnttab_copy op = {
        .source = { .u.gmfn = (unsigned long)src_page >> 12, .domid = DOMID_SELF, .offset = 100 },
        .dest = { .u.ref = 8, .domid = self, .offset = 200 },
        .len = 1000, .flags = GNTCOPY_dest_gref,
    };
    CHECK_EQ("copy gmfn -> grant", copy(&op, 1), 0);
    CHECK_EQ("copy status", op.status, GNTST_okay);
    CHECK("copied bytes", memcmp(dst_page + 200, src_page + 100, 1000) == 0 &&
                          dst_page[199] == 0 && dst_page[1200] == 0);

    struct gnttab_copy ops[5];
    for (int i = 0; i < 5; i++)
        ops[i] = op;
    ops[0].dest.u.ref = 9;                      /* read-only as destination */
    ops[1].dest.u.ref = 10;                     /* not granted to us */
    ops[2].dest.u.ref = 100000;                 /* no such entry */
    ops[3].len = 4000;                          /* runs off the page */
    ops[4].dest.domid = (domid_t)(self + 5);    /* another domain */
    CHECK_EQ("batch of bad copies", copy(ops, 5), 0);
    CHECK_EQ("read-only grant as destination", ops[0].status, GNTST_permission_denied);
    CHECK_EQ("grant for another domain", ops[1].status, GNTST_permission_denied);
    CHECK_EQ("grant ref beyond the table", ops[2].status, GNTST_bad_gntref);
    CHECK_EQ("copy past the page end", ops[3].status, GNTST_bad_copy_arg);
    CHECK_EQ("copy with another domain", ops[4].status, GNTST_bad_domain);

    /* A long batch is done in pieces (continuations: the VMM puts the vCPU
     * back on the hypercall instruction) and every op gets its status. */
    static struct gnttab_copy many[300];
    for (int i = 0; i < 300; i++) {
        many[i] = op;
        many[i].status = 99;
        if (i == 299)
            many[i].dest.u.ref = 100000;        /* the last one fails */
    }
    CHECK_EQ("batch of 300 copies", copy(many, 300), 0);
    int okay = 0;
    for (int i = 0; i < 299; i++)
        okay += many[i].status == GNTST_okay;
    CHECK_EQ("batch of 300: statuses", okay, 299);
    CHECK_EQ("batch of 300: the last", many[299].status, GNTST_bad_gntref);

    /* Read-only grant as a source works. */
    struct gnttab_copy rd = {
        .source = { .u.ref = 9, .domid = self, .offset = 200 },
        .dest = { .u.gmfn = (unsigned long)src_page >> 12, .domid = DOMID_SELF, .offset = 0 },
        .len = 16, .flags = GNTCOPY_source_gref,
    };
    CHECK("copy from a read-only grant", copy(&rd, 1) == 0 && rd.status == GNTST_okay &&
                                          src_page[0] == (uint8_t)(100 * 7 + 3));
    CHECK_EQ("copy with a bad op pointer", copy((void *)0xf8000000ul, 1), -XEN_EFAULT);

    struct gnttab_map_grant_ref m = { .ref = 8, .dom = (domid_t)(self + 5),
                                      .flags = GNTMAP_host_map,
                                      .host_addr = 0xe0000000ul };
    HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref, &m, 1);
    CHECK_EQ("map another domain's grant", m.status, GNTST_bad_domain);
    struct gnttab_unmap_grant_ref u = { .handle = 12345 };
    HYPERCALL3(__HYPERVISOR_grant_table_op, GNTTABOP_unmap_grant_ref, &u, 1);
    CHECK_EQ("unmap an unknown handle", u.status, GNTST_bad_handle);

    /* Moving the frame keeps its entries. */
    x.gpfn = 0xe0001;
    CHECK_EQ("move grant frame into a hole",
             HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x), 0);
    volatile grant_entry_v1_t *moved = (volatile grant_entry_v1_t *)0xe0001000ul;
    CHECK("moved frame kept its entries", moved[8].flags == GTF_permit_access &&
                                          moved[8].domid == self);
    finish("gnttab");
}
