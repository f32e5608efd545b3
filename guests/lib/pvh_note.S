/* The ELF note that makes this a PVH kernel: Xen's PHYS32_ENTRY. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* name size */
    .long 4                 /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .long _start
