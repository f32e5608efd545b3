/* See idt.h. Every vector has a 16-byte stub that pushes a dummy error
 * code (unless the CPU pushed one) and the vector number, then jumps to a
 * common path that saves the caller-saved registers and calls
 * idt_dispatch(vector, frame) with frame = {vector, error, ip, cs, flags}. */
#include "guest.h"
#include "idt.h"

#include <xen/sched.h>

static irq_handler_t handlers[256];

void idt_dispatch(unsigned long vector, unsigned long *frame);

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERR "(i == 8) || ((i >= 10) && (i <= 14)) || (i == 17) || (i == 21) || (i == 29) || (i == 30)"

#if GUEST_BITS == 64
__asm__(
    ".text\n"
    ".balign 16\n"
    ".globl idt_stubs\n"
    "idt_stubs:\n"
    ".set i, 0\n"
    ".rept 256\n"
    "  .balign 16\n"
    "  .if " HAS_ERR "\n"
    "  .else\n"
    "  pushq $0\n"
    "  .endif\n"
    "  pushq $i\n"
    "  jmp idt_common\n"
    "  .set i, i + 1\n"
    ".endr\n"
    "idt_common:\n"
    "  push %rax; push %rcx; push %rdx; push %rsi; push %rdi\n"
    "  push %r8; push %r9; push %r10; push %r11\n"
    "  mov 72(%rsp), %rdi\n"
    "  lea 72(%rsp), %rsi\n"
    "  push %rbp\n"
    "  mov %rsp, %rbp\n"
    "  and $-16, %rsp\n"
    "  cld\n"
    "  call idt_dispatch\n"
    "  mov %rbp, %rsp\n"
    "  pop %rbp\n"
    "  pop %r11; pop %r10; pop %r9; pop %r8\n"
    "  pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax\n"
    "  add $16, %rsp\n"
    "  iretq\n");
#else
__asm__(
    ".text\n"
    ".balign 16\n"
    ".globl idt_stubs\n"
    "idt_stubs:\n"
    ".set i, 0\n"
    ".rept 256\n"
    "  .balign 16\n"
    "  .if " HAS_ERR "\n"
    "  .else\n"
    "  pushl $0\n"
    "  .endif\n"
    "  pushl $i\n"
    "  jmp idt_common\n"
    "  .set i, i + 1\n"
    ".endr\n"
    "idt_common:\n"
    "  pushal\n"
    "  lea 32(%esp), %eax\n"
    "  push %eax\n"
    "  pushl 36(%esp)\n"
    "  cld\n"
    "  call idt_dispatch\n"
    "  add $8, %esp\n"
    "  popal\n"
    "  add $8, %esp\n"
    /* Return without iret: KVM's instruction emulator (which runs all
     * CPL0 code on the nested hosts we test on) only implements real-mode
     * IRET. Same privilege level, so iret only has to restore EIP and
     * EFLAGS: turn {EIP, CS, EFLAGS} into {EFLAGS, EIP}, popf, ret. */
    "  push %eax\n"                /* eax, EIP, CS, EFLAGS */
    "  mov 4(%esp), %eax\n"
    "  xchg %eax, 12(%esp)\n"      /* eax, EIP, CS, EIP; eax = EFLAGS */
    "  mov %eax, 8(%esp)\n"        /* eax, EIP, EFLAGS, EIP */
    "  pop %eax\n"
    "  lea 4(%esp), %esp\n"
    "  popfl\n"
    "  ret\n");
#endif

extern const uint8_t idt_stubs[];

#if GUEST_BITS == 64
struct gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
};
/* Flat 64-bit code and data at the selectors entry64.S uses. */
static const uint64_t gdt[] __attribute__((aligned(8))) = {
    0,
    0x00af9b000000ffffull,          /* 0x08: code 64 */
    0x00cf93000000ffffull,          /* 0x10: data */
};
#define CODE_SEL 0x08
#else
struct gate {
    uint16_t off_lo, sel;
    uint8_t zero, type;
    uint16_t off_hi;
};
/* Flat 32-bit code and data at the selectors the PVH entry state uses. */
static const uint64_t gdt[] __attribute__((aligned(8))) = {
    0, 0,
    0x00cf9b000000ffffull,          /* 0x10: code */
    0x00cf93000000ffffull,          /* 0x18: data */
};
#define CODE_SEL 0x10
#endif

static struct gate idt[256] __attribute__((aligned(16)));

struct __attribute__((packed)) desc_ptr {
    uint16_t limit;
    uintptr_t base;
};

void idt_dispatch(unsigned long vector, unsigned long *frame)
{
    if (vector < 256 && handlers[vector]) {
        handlers[vector]((unsigned)vector);
        return;
    }
    printk("UNEXPECTED vector %lu (error %#lx) at ip %#lx\n", vector,
           frame[1], frame[2]);
    shutdown(SHUTDOWN_crash);
}

void idt_set_handler(unsigned vector, irq_handler_t fn)
{
    handlers[vector & 255] = fn;
}

void idt_load(void)
{
    struct desc_ptr gp = { sizeof(gdt) - 1, (uintptr_t)gdt };
#if GUEST_BITS == 64
    __asm__ volatile("lgdt %0\n"
                     "pushq $0x08\n"
                     "lea 1f(%%rip), %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1: mov $0x10, %%eax\n"
                     "mov %%eax, %%ds; mov %%eax, %%es; mov %%eax, %%ss\n"
                     "mov %%eax, %%fs; mov %%eax, %%gs\n"
                     : : "m"(gp) : "rax", "memory");
#else
    __asm__ volatile("lgdt %0\n"
                     "ljmp $0x10, $1f\n"
                     "1: mov $0x18, %%eax\n"
                     "mov %%eax, %%ds; mov %%eax, %%es; mov %%eax, %%ss\n"
                     "mov %%eax, %%fs; mov %%eax, %%gs\n"
                     : : "m"(gp) : "eax", "memory");
#endif
    struct desc_ptr p = { sizeof(idt) - 1, (uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void idt_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uintptr_t a = (uintptr_t)(idt_stubs + 16 * i);
        struct gate *g = &idt[i];
        memset(g, 0, sizeof(*g));
        g->off_lo = (uint16_t)a;
        g->sel = CODE_SEL;
        g->type = 0x8e;             /* present, DPL 0, interrupt gate */
#if GUEST_BITS == 64
        g->off_mid = (uint16_t)(a >> 16);
        g->off_hi = (uint32_t)(a >> 32);
#else
        g->off_hi = (uint16_t)(a >> 16);
#endif
    }
    idt_load();
}
