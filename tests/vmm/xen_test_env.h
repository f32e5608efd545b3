/*
 * A guest domain for unit tests of the Xen ABI without /dev/kvm: real guest
 * memory (a memfd), grant table, event channels and shared info, as the
 * hypercalls would have set them up, on the in-memory platform
 * (platform/mem_platform.h), which counts the kicks.
 */
#ifndef XENON_TEST_XEN_ENV_H
#define XENON_TEST_XEN_ENV_H

#include <stdint.h>
#include <xen/grant_table.h>

#include "domain.h"

#define TEST_RAM (16u << 20)
#define TEST_SHINFO_GPA 0x40000000ull       /* in the hole above RAM */
#define TEST_GNTTAB_GPA 0x40001000ull       /* grant frames from here */
#define TEST_GNTTAB_FRAMES 4

/* Kicks of vCPU `vcpu` since the domain was made. */
unsigned test_kicks(struct domain *d, unsigned vcpu);

/* A domain (domid 1, one vCPU) with shared info placed and the grant
 * frames whose bit is set in frames_placed (bit i: frame i). */
struct domain *test_domain_new(unsigned frames_placed);
void test_domain_free(struct domain *d);

/* The guest's view of grant entry ref (frame must be placed). */
grant_entry_v1_t *test_entry(struct domain *d, grant_ref_t ref);

/* Write entry ref as a guest granting frame to domid would. */
void test_grant(struct domain *d, grant_ref_t ref, uint16_t flags,
                domid_t domid, uint32_t frame);

#endif
