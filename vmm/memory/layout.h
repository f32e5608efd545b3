/*
 * The guest-physical address map Xenon gives a PVH domain, modelled on
 * Xen's for HVM/PVH guests: RAM from 0 up to the MMIO hole, the rest of RAM
 * above 4 GiB, and the special pages (console and xenstore rings) just
 * below the end of the special region at 0xff000000, outside RAM.
 */
#ifndef XENON_LAYOUT_H
#define XENON_LAYOUT_H

#define LAYOUT_LOWMEM_END      0xf0000000ull   /* start of the MMIO hole */
#define LAYOUT_HIGHMEM_START   0x100000000ull
#define LAYOUT_SPECIAL_END     0xff000000ull
#define LAYOUT_NR_SPECIAL      4
#define LAYOUT_SPECIAL_START   (LAYOUT_SPECIAL_END - LAYOUT_NR_SPECIAL * 4096ull)

/* Special page indices. */
#define SPECIAL_CONSOLE 0
#define SPECIAL_XENSTORE 1

/* Legacy VGA/BIOS area the memory map marks reserved, as on a PC. */
#define LAYOUT_LEGACY_START    0xa0000ull
#define LAYOUT_LEGACY_END      0x100000ull

/* Where the boot information (start_info, memory map, command line,
 * module list) is placed when the kernel leaves room below it. */
#define LAYOUT_BOOTINFO        0x6000ull
#define LAYOUT_BOOTINFO_SIZE   0x2000ull

#endif
