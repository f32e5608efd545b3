/*
 * A test of live migration's memory part on a real guest (the KVM dirty
 * log, the VMM's own log, the pre-copy engine), started by xenon-vmm's
 * --test-precopy option; tests/vmm/precopy_kvm.py drives it.
 *
 * after_ms after the vCPUs start, a thread starts dirty logging and runs
 * the pre-copy rounds into `path` (a libxc image: headers,
 * STATIC_DATA_END, the rounds, a one-vCPU HVM_CONTEXT, END) while the
 * guest runs, pauses the domain for the final round, then, with the
 * domain still paused, reads the file back with the strict reader into a
 * scratch image and compares it with guest memory page by page. It logs
 * one line per round and one result line:
 *   precopy-check: round I dirty D pages P bytes B us T
 *   precopy-check: PASS|FAIL rounds=N pages=P differ=K stop_to_end_us=S ...
 * and unpauses the domain, which runs on.
 */
#ifndef XENON_PRECOPY_CHECK_H
#define XENON_PRECOPY_CHECK_H

struct domain;

/* Parse "MS:PATH"; 0 or -EINVAL. */
int precopy_check_parse(const char *arg, unsigned *after_ms, const char **path);
/* Start the checking thread (after vcpus_start); 0 or a negative errno. */
int precopy_check_start(struct domain *d, unsigned after_ms, const char *path);

#endif
