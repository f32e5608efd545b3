/*
 * Saving and loading the event-channel table (state/state.h). Pending and
 * mask bits live in shared info, that is in guest memory, and travel with
 * it; what is saved here is the table in the VMM: each open port, and the
 * events raised before the guest mapped shared info.
 *
 * Ports bound to this VMM's own backends cannot carry their backend (a
 * pointer into this process): on load, the restoring VMM's backends have
 * already bound their ports (the contract fixes them), and a record must
 * name exactly those ports as backend ports.
 */
#include "domain.h"
#include "evtchn.h"
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct evtchn_record {
    uint32_t port;
    uint8_t state;          /* EVTCHNSTAT_* other than closed */
    uint8_t backend;        /* bound to a backend in the VMM */
    uint16_t pad;
    uint32_t vcpu;
    uint32_t remote_dom;
    uint32_t remote_port;
    uint32_t virq;
};
_Static_assert(sizeof(struct evtchn_record) == 24, "record layout");

#define EARLY_BYTES sizeof(((struct evtchn_table *)0)->early_pending)

static int evtchn_save(struct domain *d, struct state_buf *out)
{
    uint32_t nr = 0;
    for (unsigned p = 1; p < EVTCHN_2L_MAX_64; p++)
        nr += d->evtchn.port[p].state != EVTCHNSTAT_closed;
    int rc = state_put(out, &nr, sizeof(nr));
    if (rc == 0)
        rc = state_put(out, d->evtchn.early_pending, EARLY_BYTES);
    for (unsigned p = 1; p < EVTCHN_2L_MAX_64 && rc == 0; p++) {
        const struct evtchn *c = &d->evtchn.port[p];
        if (c->state == EVTCHNSTAT_closed)
            continue;
        struct evtchn_record r = {
            .port = p, .state = c->state, .backend = c->be != NULL,
            .vcpu = c->vcpu, .remote_dom = c->remote_dom,
            .remote_port = c->remote_port, .virq = c->virq,
        };
        rc = state_put(out, &r, sizeof(r));
    }
    return rc;
}

/* Check one record against the table being built; 0 or -EINVAL. */
static int check_record(struct domain *d, const struct evtchn_record *r,
                        const struct evtchn *built, unsigned (*virq)[NR_VIRQS])
{
    unsigned max = evtchn_max_ports(d);
    if (r->port == 0 || r->port >= max || built[r->port].state != EVTCHNSTAT_closed)
        return -EINVAL;
    if (r->vcpu >= d->nr_vcpus || r->pad || r->backend > 1)
        return -EINVAL;
    bool is_backend = d->evtchn.port[r->port].be != NULL;
    if (r->backend != is_backend)
        return -EINVAL;
    if (r->backend && r->state != EVTCHNSTAT_interdomain)
        return -EINVAL;             /* a backend's port is interdomain */
    switch (r->state) {
    case EVTCHNSTAT_unbound:
        return r->remote_dom <= 0xffff ? 0 : -EINVAL;
    case EVTCHNSTAT_interdomain:
        if (r->backend)
            return r->remote_dom == 0 ? 0 : -EINVAL;
        return r->remote_dom == d->domid && r->remote_port != 0 &&
               r->remote_port < max ? 0 : -EINVAL;
    case EVTCHNSTAT_virq: {
        if (r->virq >= NR_VIRQS)
            return -EINVAL;
        unsigned owner = evtchn_virq_is_per_vcpu(r->virq) ? r->vcpu : 0;
        if (virq[owner][r->virq])
            return -EINVAL;
        virq[owner][r->virq] = r->port;
        return 0;
    }
    case EVTCHNSTAT_ipi:
        return 0;
    default:
        return -EINVAL;
    }
}

static int evtchn_load(struct domain *d, const uint8_t *p, size_t len)
{
    uint32_t nr;
    if (len < sizeof(nr) + EARLY_BYTES)
        return -EINVAL;
    memcpy(&nr, p, sizeof(nr));
    if (nr >= EVTCHN_2L_MAX_64 ||
        len != sizeof(nr) + EARLY_BYTES + (size_t)nr * sizeof(struct evtchn_record))
        return -EINVAL;
    const uint8_t *early = p + sizeof(nr);
    const uint8_t *recs = early + EARLY_BYTES;

    /* Build the new table aside; the domain's changes only if all of it
     * is consistent. */
    struct evtchn *built = calloc(EVTCHN_2L_MAX_64, sizeof(*built));
    unsigned (*virq)[NR_VIRQS] = calloc(MAX_VCPUS, sizeof(*virq));
    int rc = built && virq ? 0 : -ENOMEM;
    for (uint32_t i = 0; i < nr && rc == 0; i++) {
        struct evtchn_record r;
        memcpy(&r, recs + (size_t)i * sizeof(r), sizeof(r));
        rc = check_record(d, &r, built, virq);
        if (rc == 0)
            built[r.port] = (struct evtchn){
                .state = r.state, .vcpu = r.vcpu, .remote_dom = r.remote_dom,
                .remote_port = r.remote_port,
                .virq = r.state == EVTCHNSTAT_virq ? r.virq : 0,
                .be = d->evtchn.port[r.port].be,
            };
    }
    /* A loopback pair names each other; every backend port is present. */
    for (unsigned q = 1; q < EVTCHN_2L_MAX_64 && rc == 0; q++) {
        const struct evtchn *c = &built[q];
        if (d->evtchn.port[q].be && !c->be)
            rc = -EINVAL;
        if (c->state == EVTCHNSTAT_interdomain && !c->be) {
            const struct evtchn *peer = &built[c->remote_port];
            if (peer->state != EVTCHNSTAT_interdomain || peer->be ||
                peer->remote_port != q)
                rc = -EINVAL;
        }
    }
    if (rc == 0) {
        memcpy(d->evtchn.port, built, EVTCHN_2L_MAX_64 * sizeof(*built));
        memcpy(d->evtchn.early_pending, early, EARLY_BYTES);
        for (unsigned v = 0; v < d->nr_vcpus; v++)
            memcpy(d->vcpu[v].virq_port, virq[v], sizeof(virq[v]));
    }
    free(built);
    free(virq);
    return rc;
}

STATE_MODULE(evtchn_state) = {
    .name = "evtchn", .version = 1, .save = evtchn_save, .load = evtchn_load,
};
