/*
 * PVH entry for 64-bit guests: enter at 32-bit protected mode (as PVH
 * defines), load page tables identity-mapping the first 4 GiB with 2 MiB
 * pages (user-accessible, for the ring-3 benchmark), switch to long mode
 * and call guest_entry().
 *
 * The tables are built by the assembler, not at run time: where guest
 * code at CPL0 is emulated (~0.5 us an instruction), filling 2048 entries
 * in a loop cost ~14,000 instructions, most of the guest's boot. They are
 * 24 KiB of image the loader copies instead.
 */
#include "pvh_note.S"
    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    mov %ebx, %edi                  /* start info, kept for guest_entry */
    mov $stack_top, %esp

    mov $pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax                  /* PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx           /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax            /* PG | PE */
    mov %eax, %cr0
    lgdt gdt_desc
    ljmp $0x08, $long_mode

    .code64
long_mode:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $stack_top, %rsp
    mov %edi, %edi                  /* zero-extend the start info pointer */
    call guest_entry
3:  hlt
    jmp 3b

    .section .data
    .balign 8
    .globl guest_gdt
guest_gdt:
    .quad 0
    .quad 0x00af9b000000ffff        /* 0x08: kernel code 64 */
    .quad 0x00cf93000000ffff        /* 0x10: kernel data */
    .quad 0x00cff3000000ffff        /* 0x18: user data (ring 3) */
    .quad 0x00affb000000ffff        /* 0x20: user code 64 (ring 3) */
    .quad 0, 0                      /* 0x28: TSS, filled by the ring-3 helper */
gdt_end:
gdt_desc:
    .word gdt_end - guest_gdt - 1
    .long guest_gdt

    /* PML4[0] -> PDPT; PDPT[0..3] -> four PDs of 512 x 2 MiB. */
    .section .data
    .balign 4096
pml4:
    .quad pdpt + 0x7                /* present, writable, user */
    .fill 511, 8, 0
pdpt:
    .quad pd + 0x7
    .quad pd + 0x1000 + 0x7
    .quad pd + 0x2000 + 0x7
    .quad pd + 0x3000 + 0x7
    .fill 508, 8, 0
pd:
    .set page, 0
    .rept 2048
    .quad (page << 21) | 0x87       /* present, writable, user, 2 MiB */
    .set page, page + 1
    .endr

    .section .bss
    .balign 16
stack:
    .skip 16384
stack_top:
