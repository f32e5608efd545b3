/*
 * The contract between xenon-vmm (layer 1) and the toolstack (libxenon,
 * layer 3): everything both sides must agree on, typed once, here.
 *
 * Self-contained (only <stdint.h>), so either side, a test or a fuzz
 * target includes it alone. XENON_CONTRACT_VERSION changes whenever a
 * value here changes meaning; a VMM and a toolstack of different
 * versions refuse to talk (the control channel carries the version).
 */
#ifndef XENON_CONTRACT_H
#define XENON_CONTRACT_H

#include <stdint.h>

#define XENON_CONTRACT_VERSION 1

/* --- guest-physical layout ---------------------------------------------
 * Special pages (the PV console and xenstore rings) sit just below
 * XENON_SPECIAL_END, outside RAM, as Xen places an HVM/PVH domain's
 * special pages below its MMIO hole's end. The toolstack publishes their
 * frames in xenstore (console/ring-ref, store/ring-ref, INTRODUCE). */
#define XENON_PAGE_SIZE          4096ull
#define XENON_SPECIAL_END        0xff000000ull
#define XENON_NR_SPECIAL         4
#define XENON_SPECIAL_START      (XENON_SPECIAL_END - XENON_NR_SPECIAL * XENON_PAGE_SIZE)
#define XENON_SPECIAL_CONSOLE    0   /* index among the special pages */
#define XENON_SPECIAL_XENSTORE   1
#define XENON_SPECIAL_GFN(idx)   ((XENON_SPECIAL_START / XENON_PAGE_SIZE) + (idx))
#define XENON_CONSOLE_GFN        XENON_SPECIAL_GFN(XENON_SPECIAL_CONSOLE)
#define XENON_XENSTORE_GFN       XENON_SPECIAL_GFN(XENON_SPECIAL_XENSTORE)

/* --- event channels the VMM binds before the guest runs ----------------
 * Assigned explicitly, not by the order of initialisation: the toolstack
 * writes these numbers into xenstore (store/port, console/port) and
 * HVM_PARAM_{STORE,CONSOLE}_EVTCHN carries them to the guest. */
#define XENON_PORT_XENSTORE      1
#define XENON_PORT_CONSOLE       2

/* --- exit status of a xenon-vmm process --------------------------------- */
#define XENON_EXIT_ERROR          1   /* the domain could not be built */
#define XENON_EXIT_DESTROYED      2   /* ended by the toolstack (SIGTERM, destroy) */
#define XENON_EXIT_SHUTDOWN_BASE  100 /* + Xen's SHUTDOWN_* reason, 0..SHUTDOWN_MAX */
/* Shut down with a reason Xen does not define (above SHUTDOWN_MAX): Xen
 * accepts it and xl destroys such a domain; the number is in the VMM log. */
#define XENON_EXIT_SHUTDOWN_UNDEFINED 99

/* --- log caps (xenon-vmm --log-max-size, --log-files) --------------------
 * Each console and serial log of a domain holds at most SIZE bytes per file
 * in FILES files (the current one and FILE.1 .. FILE.(FILES-1)). */
#define XENON_LOG_MAX_SIZE_DEFAULT (1024 * 1024)
#define XENON_LOG_FILES_DEFAULT    4

#endif
