/*
 * One vCPU's state between the platform's terms (platform.h, struct
 * platform_vcpu_state) and Xen's HVM save records (hvm_context.h): CPU,
 * LAPIC, LAPIC_REGS, MTRR and CPU_XSAVE, field by field as platform.h
 * lists them. Pure: no domain, no KVM, unit-tested alone.
 *
 * Xen's records say less than the platform's state (no MP state, no
 * pending NMI/SMI, no interrupt shadow, no MSRs beyond the architectural
 * ones): going to the platform, a conversion starts from a base state (the
 * restoring vCPU's own, which also fixes the XSAVE area's size and the
 * MSRs the platform carries) and replaces what the records say.
 */
#ifndef XENON_HVM_CONVERT_H
#define XENON_HVM_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "hvm_context.h"
#include "platform.h"

/* Xen's vlapic "disabled" bits (xen/arch/x86/include/asm/hvm/vlapic.h). */
#define HVM_VLAPIC_SW_DISABLED 0x1u
#define HVM_VLAPIC_HW_DISABLED 0x2u

/* The buffer a CPU_XSAVE record of one vCPU needs. */
#define HVM_CONVERT_XSAVE_MAX                                              \
    (offsetof(struct hvm_hw_cpu_xsave, save_area) + PLATFORM_XSAVE_MAX)

/* Fill out (present, CPU, LAPIC, LAPIC_REGS, MTRR, CPU_XSAVE) from s.
 * The CPU_XSAVE payload is built in xsave_buf (HVM_CONVERT_XSAVE_MAX
 * bytes), which out->xsave then points to; no XSAVE record when s has no
 * XSAVE area. xfeature_mask is the guest's XCR0-settable features (CPUID
 * 0xD), 0 if unknown (Xen ignores it on restore). */
void hvm_from_platform(const struct platform_vcpu_state *s, uint64_t xfeature_mask,
                       struct hvm_ctx_vcpu *out, uint8_t *xsave_buf);

/* Replace in *s what the records of v say (v->present must be set).
 * 0, or -EINVAL for records the platform's state cannot hold (an XSAVE
 * area larger than the base's, a pending event of a type KVM cannot
 * inject); *s is then partly changed and must not be used. */
int hvm_to_platform(const struct hvm_ctx_vcpu *v, struct platform_vcpu_state *s);

#endif
