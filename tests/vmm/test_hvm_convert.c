/* vCPU state between the platform's terms and Xen's HVM save records
 * (vmm/state/hvm_convert.h): what Xen's records say survives the trip
 * there and back, field by field; what they cannot say is kept from the
 * base; and a pending event Xen names but KVM cannot inject is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "hvm_context.h"
#include "hvm_convert.h"

static const uint32_t msrs[] = { 0x174, 0x175, 0x176, 0xc0000081, 0xc0000082,
    0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103, 0x277, 0x2ff, 0x6e0, 0x200, 0x250 };

static void fill(struct platform_vcpu_state *s)
{
    memset(s, 0, sizeof(*s));
    uint64_t *r = (uint64_t *)&s->regs;
    for (unsigned i = 0; i < sizeof(s->regs) / 8; i++)
        r[i] = 0x1000 + i;
    s->cs = (struct platform_segment){ .base = 0, .limit = 0xffffffff, .selector = 8,
                                       .type = 0xb, .present = 1, .s = 1, .l = 1, .g = 1 };
    s->ss = (struct platform_segment){ .limit = 0xffffffff, .selector = 0x10, .type = 3,
                                       .present = 1, .s = 1, .db = 1, .g = 1, .dpl = 0 };
    s->ldt = (struct platform_segment){ .unusable = 1 };
    s->tr = (struct platform_segment){ .base = 0x5000, .limit = 0x67, .selector = 0x18,
                                       .type = 0xb, .present = 1 };
    s->gdt = (struct platform_dtable){ 0x7000, 0x2f };
    s->idt = (struct platform_dtable){ 0x8000, 0xfff };
    s->cr0 = 0x80050033; s->cr2 = 0xdead000; s->cr3 = 0x9000; s->cr4 = 0x6b0;
    s->efer = 0xd01; s->apic_base = 0xfee00900;
    s->dr[0] = 1; s->dr[3] = 4; s->dr6 = 0xffff0ff0; s->dr7 = 0x400;
    s->tsc = 123456789;
    s->nr_msrs = sizeof(msrs) / sizeof(msrs[0]);
    for (unsigned i = 0; i < s->nr_msrs; i++)
        s->msr[i] = (typeof(s->msr[0])){ msrs[i], 0, 0x100 + i };
    s->nr_xcrs = 1;
    s->xcrs[0] = (typeof(s->xcrs[0])){ 0, 0, 7 };
    s->events.interrupt_injected = 1;
    s->events.interrupt_nr = 0xf2;
    s->mp_state = PLATFORM_MP_RUNNABLE;
    s->xsave_len = 4096;
    for (unsigned i = 0; i < s->xsave_len; i++)
        s->xsave[i] = (uint8_t)(i * 13);
    uint32_t svr = 0x1ff, dcr = 0xb, tpr = 0x20;
    memcpy(s->lapic + 0xf0, &svr, 4);
    memcpy(s->lapic + 0x3e0, &dcr, 4);
    memcpy(s->lapic + 0x80, &tpr, 4);
    s->cr8 = 2;
}

static void test_round_trip(void **state)
{
    (void)state;
    static struct platform_vcpu_state a, b, base;
    static uint8_t xs[HVM_CONVERT_XSAVE_MAX];
    struct hvm_ctx_vcpu v;
    fill(&a);
    hvm_from_platform(&a, 0x7, &v, xs);
    assert_true(v.present && v.has_lapic && v.has_lapic_regs && v.has_mtrr);
    assert_int_equal(v.cpu.rip, a.regs.rip);
    assert_int_equal(v.cpu.cs_arbytes, 0xb | 1 << 4 | 1 << 7 | 1 << 9 | 1 << 11);
    assert_int_equal(v.cpu.ldtr_arbytes, 0);            /* unusable: not present */
    assert_int_equal(v.cpu.msr_lstar, 0x100 + 4);
    assert_int_equal(v.cpu.pending_event, 0xf2u | 1u << 31);   /* external interrupt */
    assert_int_equal(v.lapic.disabled, 0);
    assert_int_equal(v.lapic.timer_divisor, 1);         /* DCR 0xb: divide by 1 */
    assert_int_equal(v.lapic.tdt_msr, 0x100 + 11);
    assert_int_equal(v.xsave_len, offsetof(struct hvm_hw_cpu_xsave, save_area) + 4096);

    /* Back onto a base whose fields Xen's records do not hold differ. */
    fill(&base);
    memset(&base.regs, 0, sizeof(base.regs));
    base.events.nmi_pending = 1;
    base.mp_state = PLATFORM_MP_HALTED;
    memset(base.xsave, 0, sizeof(base.xsave));
    for (unsigned i = 0; i < base.nr_msrs; i++)
        base.msr[i].value = 0;
    b = base;
    assert_int_equal(hvm_to_platform(&v, &b), 0);
    assert_memory_equal(&b.regs, &a.regs, sizeof(a.regs));
    assert_memory_equal(&b.cs, &a.cs, sizeof(a.cs));
    assert_memory_equal(&b.ss, &a.ss, sizeof(a.ss));
    assert_memory_equal(&b.tr, &a.tr, sizeof(a.tr));
    assert_true(b.ldt.unusable && !b.ldt.present);
    assert_memory_equal(&b.gdt, &a.gdt, sizeof(a.gdt));
    assert_memory_equal(&b.idt, &a.idt, sizeof(a.idt));
    assert_int_equal(b.cr0, a.cr0); assert_int_equal(b.cr3, a.cr3);
    assert_int_equal(b.cr4, a.cr4); assert_int_equal(b.efer, a.efer);
    assert_int_equal(b.cr8, 2);                          /* from the TPR */
    assert_int_equal(b.apic_base, a.apic_base);
    assert_memory_equal(b.dr, a.dr, sizeof(a.dr));
    assert_int_equal(b.tsc, a.tsc);
    assert_memory_equal(b.msr, a.msr, sizeof(a.msr));
    assert_memory_equal(b.xsave, a.xsave, a.xsave_len);
    assert_int_equal(b.xcrs[0].value, 7);
    assert_memory_equal(b.lapic, a.lapic, sizeof(a.lapic));
    assert_true(b.events.interrupt_injected && b.events.interrupt_nr == 0xf2);
    assert_int_equal(b.events.nmi_pending, 1);          /* kept from the base */
    assert_int_equal(b.mp_state, PLATFORM_MP_RUNNABLE); /* a CPU record: it runs */
}

static void test_refusals(void **state)
{
    (void)state;
    static struct platform_vcpu_state a, b;
    static uint8_t xs[HVM_CONVERT_XSAVE_MAX];
    struct hvm_ctx_vcpu v;
    fill(&a);
    hvm_from_platform(&a, 0, &v, xs);
    b = a;
    v.cpu.pending_event = 5u << 8 | 1u << 31;           /* privileged sw exception */
    assert_int_equal(hvm_to_platform(&v, &b), -EINVAL);
    v.cpu.pending_event = 40u | 3u << 8 | 1u << 31;     /* exception 40 */
    assert_int_equal(hvm_to_platform(&v, &b), -EINVAL);
    v.cpu.pending_event = 0;
    b = a;
    b.xsave_len = 1024;                                 /* smaller than the record */
    assert_int_equal(hvm_to_platform(&v, &b), -EINVAL);
    v.present = false;
    assert_int_equal(hvm_to_platform(&v, &b), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
