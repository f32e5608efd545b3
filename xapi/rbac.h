/* XAPI's roles, a strict hierarchy: each role may do all that the roles
 * below it may. Every method declares the least role that may call it. */
#ifndef XAPI_RBAC_H
#define XAPI_RBAC_H

enum role {
    ROLE_NONE = 0,
    ROLE_READ_ONLY, ROLE_VM_OPERATOR, ROLE_VM_ADMIN, ROLE_VM_POWER_ADMIN,
    ROLE_POOL_OPERATOR, ROLE_POOL_ADMIN,
};

/* "pool-admin" etc., and back (ROLE_NONE if unknown). */
const char *role_name(enum role r);
enum role role_from_name(const char *s);

/* Whether `have` may call a method needing `need`. */
static inline int role_allows(enum role have, enum role need)
{
    return have >= need;
}

/* The role a user logs in with: root is pool-admin, as in XAPI; others
 * as the roles file (--roles: lines "USER ROLE", # comments) says, else
 * none (login refused). */
int rbac_load(const char *path);
enum role rbac_role_of(const char *user);

#endif
