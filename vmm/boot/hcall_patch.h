/*
 * Route direct `vmcall`/`vmmcall` hypercalls to the VMM.
 *
 * Linux 6.13 and later, and Debian's 6.1.123 and later (CVE-2024-53241),
 * no longer call Xen through the hypercall page: they execute `vmcall` or
 * `vmmcall` from two one-instruction stubs (xen_hypercall_intel/_amd). On a
 * KVM without Xen support those instructions never reach userspace, so the
 * loader rewrites the stubs when it loads the kernel: each 16-byte-aligned
 * function that is just [endbr64] vmcall|vmmcall followed by a return has
 * the instruction replaced by `out %eax, $XEN_HYPERCALL_PORT; nop`, which
 * reaches the dispatcher exactly as a hypercall page stub does (EAX holds
 * the hypercall number in both conventions).
 *
 * Why patching rather than hardware breakpoints on the stubs: stock kernels
 * are stripped (no symbols to find the stubs by), breakpoints are 4 per vCPU
 * and cost a debug exit plus emulation on every hypercall, while a patched
 * stub costs nothing extra. Inline `vmcall`s (KVM's, Hyper-V's) are never
 * touched: they are not whole functions, and a Xen guest does not run them.
 */
#ifndef XENON_HCALL_PATCH_H
#define XENON_HCALL_PATCH_H

#include <stddef.h>
#include <stdint.h>

/* Patch the stubs in one executable segment (host copy at seg, loaded at
 * guest-physical paddr). Returns the number of stubs patched. */
unsigned hcall_patch_segment(uint8_t *seg, size_t len, uint64_t paddr);

#endif
