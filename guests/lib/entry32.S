/* PVH entry for 32-bit guests: protected mode, paging off, EBX = start info. */
#include "pvh_note.S"
    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    mov $stack_top, %esp
    push %ebx
    call guest_entry
1:  hlt
    jmp 1b

    .section .bss
    .balign 16
stack:
    .skip 16384
stack_top:
