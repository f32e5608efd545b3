/*
 * libFuzzer target: loading saved state (state/state.h), which comes from
 * a file or another host. Any input is loaded into a fresh domain whose
 * console backend holds its contract port, as on a restore; it must be
 * refused or give a table the event-channel code can use (every open
 * port's status reads back, and closing every port succeeds) without a
 * crash or a sanitizer report.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "domain.h"
#include "evtchn.h"
#include "log.h"
#include "mem_platform.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void notify_nothing(void *opaque) { (void)opaque; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct evtchn_backend console = { .notify = notify_nothing };
    static int ready;
    if (!ready) {
        log_init("fuzz-state", fopen("/dev/null", "w"), LOG_ERR);
        ready = 1;
    }
    struct domain *d = mem_domain_create(3, 2, 1u << 20);
    if (!d || evtchn_alloc_backend_at(d, XENON_PORT_CONSOLE, &console) < 0)
        abort();
    if (state_load(d, data, size) == 0) {
        for (uint32_t p = 1; p < EVTCHN_2L_MAX_64; p++) {
            if (d->evtchn.port[p].state == 0)
                continue;
            struct evtchn_status st;
            if (evtchn_status(d, p, &st) < 0 || evtchn_send(d, p) < 0)
                abort();
        }
        for (uint32_t p = 1; p < EVTCHN_2L_MAX_64; p++)
            if (d->evtchn.port[p].state != 0 && evtchn_close(d, p) < 0)
                abort();
    }
    mem_domain_destroy(d);
    return 0;
}
