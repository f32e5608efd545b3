/* Role names and the user -> role map (rbac.h). */
#include "rbac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const names[] = {
    [ROLE_NONE] = "", [ROLE_READ_ONLY] = "read-only",
    [ROLE_VM_OPERATOR] = "vm-operator", [ROLE_VM_ADMIN] = "vm-admin",
    [ROLE_VM_POWER_ADMIN] = "vm-power-admin",
    [ROLE_POOL_OPERATOR] = "pool-operator", [ROLE_POOL_ADMIN] = "pool-admin",
};

const char *role_name(enum role r)
{
    return r <= ROLE_POOL_ADMIN ? names[r] : "";
}

enum role role_from_name(const char *s)
{
    for (int r = ROLE_READ_ONLY; r <= ROLE_POOL_ADMIN; r++)
        if (!strcmp(s, names[r]))
            return (enum role)r;
    return ROLE_NONE;
}

#define MAX_USERS 256
static struct { char user[64]; enum role role; } users[MAX_USERS];
static int nusers;

int rbac_load(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        log_msg(LOG_ERR, "cannot read roles file %s", path);
        return -1;
    }
    char line[256];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char u[64], r[32];
        char *h = strchr(line, '#');
        if (h)
            *h = 0;
        int k = sscanf(line, "%63s %31s", u, r);
        if (k <= 0)
            continue;
        enum role role = k == 2 ? role_from_name(r) : ROLE_NONE;
        if (role == ROLE_NONE || nusers == MAX_USERS) {
            log_msg(LOG_ERR, "%s:%d: expected USER ROLE", path, lineno);
            fclose(f);
            return -1;
        }
        snprintf(users[nusers].user, sizeof(users[nusers].user), "%s", u);
        users[nusers++].role = role;
    }
    fclose(f);
    return 0;
}

enum role rbac_role_of(const char *user)
{
    if (!strcmp(user, "root"))
        return ROLE_POOL_ADMIN;
    for (int i = 0; i < nusers; i++)
        if (!strcmp(users[i].user, user))
            return users[i].role;
    return ROLE_NONE;
}
