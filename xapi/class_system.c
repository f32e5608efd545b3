/* system.listMethods (no session), which the xen-api client reads to learn
 * the classes: each X.get_all_records listed is one it fetches. */
#include "dispatch.h"

static json_object *list_methods(struct call *c)
{
    return dispatch_list();
}

const struct xapi_method system_methods[] = {
    { "system.listMethods", -1, ROLE_NONE, M_NO_SESSION, list_methods },
    { NULL, 0, 0, 0, NULL },
};
