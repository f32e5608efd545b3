#include "exits.h"

#include <errno.h>
#include <string.h>

static bool overlaps(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
    return a < b + nb && b < a + na;
}

int exits_register_ports(struct exits *t, uint16_t first, uint16_t count,
                         port_handler fn, void *opaque)
{
    if (count == 0 || (uint32_t)first + count > 0x10000u || !fn)
        return -EINVAL;
    for (unsigned i = 0; i < t->nr_ports; i++)
        if (overlaps(first, count, t->port[i].first, t->port[i].count))
            return -EEXIST;
    if (t->nr_ports >= EXITS_MAX_PORT_RANGES)
        return -ENOSPC;
    unsigned n = t->nr_ports++;
    t->port[n].first = first;
    t->port[n].count = count;
    t->port[n].fn = fn;
    t->port[n].opaque = opaque;
    return 0;
}

int exits_register_msr(struct exits *t, uint32_t index, msr_handler fn,
                       void *opaque)
{
    if (!fn)
        return -EINVAL;
    for (unsigned i = 0; i < t->nr_msrs; i++)
        if (t->msr[i].index == index)
            return -EEXIST;
    if (t->nr_msrs >= EXITS_MAX_MSRS)
        return -ENOSPC;
    unsigned n = t->nr_msrs++;
    t->msr[n].index = index;
    t->msr[n].fn = fn;
    t->msr[n].opaque = opaque;
    return 0;
}

void exits_port_io(const struct exits *t, struct vcpu *v, uint16_t port,
                   bool out, uint8_t *data, unsigned size, unsigned count)
{
    for (unsigned i = 0; i < t->nr_ports; i++) {
        if (port >= t->port[i].first &&
            port - t->port[i].first < t->port[i].count) {
            t->port[i].fn(v, port, out, data, size, count, t->port[i].opaque);
            return;
        }
    }
    if (!out)
        memset(data, 0xff, (size_t)size * count);
}

bool exits_msr(const struct exits *t, struct vcpu *v, uint32_t index,
               bool write, uint64_t *value)
{
    for (unsigned i = 0; i < t->nr_msrs; i++)
        if (t->msr[i].index == index)
            return t->msr[i].fn(v, index, write, value, t->msr[i].opaque);
    return false;
}
