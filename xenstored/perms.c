/* perms: permission strings and checks (see perms.h). */
#include "perms.h"

#include <stdio.h>
#include <string.h>

#include "wire.h"

bool perm_parse(const char *s, struct xs_perm *out)
{
    unsigned long id;
    switch (s[0]) {
    case 'n': out->perm = PERM_NONE; break;
    case 'r': out->perm = PERM_READ; break;
    case 'w': out->perm = PERM_WRITE; break;
    case 'b': out->perm = PERM_READ | PERM_WRITE; break;
    default: return false;
    }
    if (!wire_parse_uint(s + 1, UINT32_MAX, &id))
        return false;
    out->id = (uint32_t)id;
    return true;
}

size_t perms_format(const struct xs_perm *p, unsigned n, char *buf,
                    size_t cap)
{
    static const char letters[] = "nrwb";
    size_t used = 0;
    for (unsigned i = 0; i < n; i++) {
        int w = snprintf(buf + used, cap - used, "%c%u",
                         letters[p[i].perm & 3], p[i].id);
        if (w < 0 || (size_t)w + 1 > cap - used)
            return 0;
        used += (size_t)w + 1; /* keep the NUL snprintf wrote */
    }
    return used;
}

unsigned perms_for(const struct xs_perm *p, unsigned n, uint32_t domid,
                   bool privileged, long target)
{
    if (privileged || p[0].id == domid || (target >= 0 && p[0].id == target))
        return PERM_READ | PERM_WRITE | PERM_OWNER;
    for (unsigned i = 1; i < n; i++)
        if (p[i].id == domid || (target >= 0 && p[i].id == target))
            return p[i].perm;
    return p[0].perm;
}
