/*
 * PVH entry for 64-bit guests: enter at 32-bit protected mode (as PVH
 * defines), identity-map the first 4 GiB with 2 MiB pages (user-accessible,
 * for the ring-3 benchmark), switch to long mode and call guest_entry().
 */
#include "pvh_note.S"
    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    mov %ebx, %edi                  /* start info, kept for guest_entry */
    mov $stack_top, %esp

    /* PML4[0] -> PDPT. With 1 GiB pages (CPUID 0x80000001 EDX bit 26)
     * four PDPT entries map 4 GiB; otherwise PDPT[0..3] -> four PD pages
     * of 512 x 2 MiB. Guest code is emulated on some hosts: the short
     * path matters for boot time. */
    mov $pdpt, %eax
    or $0x7, %eax
    mov %eax, pml4
    mov %edi, %esi                  /* cpuid clobbers ebx..edx */
    mov $0x80000001, %eax
    cpuid
    mov %esi, %edi
    bt $26, %edx
    jnc 4f
    movl $0x00000087, pdpt          /* present, writable, user, 1 GiB */
    movl $0x40000087, pdpt + 8
    movl $0x80000087, pdpt + 16
    movl $0xc0000087, pdpt + 24
    jmp 5f
4:  xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $pd, %eax
    or $0x7, %eax
    mov %eax, pdpt(,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x87, %eax                  /* present, writable, user, 2 MiB */
    mov %eax, pd(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

5:  mov $pml4, %eax
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

    .section .bss
    .balign 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096 * 4
    .balign 16
stack:
    .skip 16384
stack_top:
