/*
 * Interrupts for the test guests: an IDT with a stub for every vector
 * (32- and 64-bit), C handlers per vector, and the local APIC basics.
 * A vector without a handler (an exception, say) prints what happened and
 * crashes the domain.
 */
#ifndef IDT_H
#define IDT_H

#include <stdint.h>

typedef void (*irq_handler_t)(unsigned vector);

/* Build the IDT (256 gates leading to idt_dispatch()) and load it with a
 * GDT of our own: flat code/data at 0x08/0x10 (64-bit, as entry64.S) or
 * 0x10/0x18 (32-bit, the PVH entry selectors). */
void idt_init(void);
/* Load that GDT and IDT on another vCPU (after idt_init()). */
void idt_load(void);
void idt_set_handler(unsigned vector, irq_handler_t fn);

static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }

/* Local APIC at its reset base (identity-mapped in both guest flavours). */
#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ISR 0x100             /* 8 registers, 0x10 apart */
#define LAPIC_IRR 0x200

static inline uint32_t lapic_read(unsigned reg)
{
    return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg);
}

static inline void lapic_write(unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v;
}

/* Software-enable the APIC (SVR bit 8) with spurious vector 0xff. */
static inline void lapic_enable(void)
{
    lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x1ff);
}

static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

/* Is vector in service (ISR) / requested (IRR)? */
static inline int lapic_isr(unsigned vector)
{
    return (lapic_read(LAPIC_ISR + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

static inline int lapic_irr(unsigned vector)
{
    return (lapic_read(LAPIC_IRR + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

#endif
