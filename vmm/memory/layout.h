/*
 * The guest-physical address map Xenon gives a PVH domain, modelled on
 * Xen's for HVM/PVH guests: RAM from 0 up to the MMIO hole, the rest of RAM
 * above 4 GiB, and the special pages (console and xenstore rings) just
 * below the end of the special region at 0xff000000, outside RAM.
 */
#ifndef XENON_LAYOUT_H
#define XENON_LAYOUT_H

#include "xenon/contract.h"

#define LAYOUT_LOWMEM_END      0xf0000000ull   /* start of the MMIO hole */
#define LAYOUT_HIGHMEM_START   0x100000000ull
/* The special pages, as the contract with the toolstack fixes them. */
#define LAYOUT_SPECIAL_END     XENON_SPECIAL_END
#define LAYOUT_NR_SPECIAL      XENON_NR_SPECIAL
#define LAYOUT_SPECIAL_START   XENON_SPECIAL_START
#define SPECIAL_CONSOLE        XENON_SPECIAL_CONSOLE
#define SPECIAL_XENSTORE       XENON_SPECIAL_XENSTORE

/* Legacy VGA/BIOS area the memory map marks reserved, as on a PC. */
#define LAYOUT_LEGACY_START    0xa0000ull
#define LAYOUT_LEGACY_END      0x100000ull

/* Where the boot information (start_info, memory map, command line,
 * module list) is placed when the kernel leaves room below it. */
#define LAYOUT_BOOTINFO        0x6000ull
#define LAYOUT_BOOTINFO_SIZE   0x2000ull

#endif
