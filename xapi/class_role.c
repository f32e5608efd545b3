/* role: XAPI's six roles as records (name_label, name_description,
 * subroles: each role holds the one below it, as the hierarchy in
 * rbac.h), read-only. */
#include "rbac.h"

#include <stdio.h>

#include "host_info.h"
#include "model.h"

/* locked */
void roles_init(void)
{
    static const char *const what[] = {
        [ROLE_READ_ONLY] = "May look at everything",
        [ROLE_VM_OPERATOR] = "May start, stop, pause and reboot VMs",
        [ROLE_VM_ADMIN] = "VM operator, and may change VMs",
        [ROLE_VM_POWER_ADMIN] = "VM admin, and may place and migrate VMs",
        [ROLE_POOL_OPERATOR] = "VM power admin, and may manage the pool's hosts",
        [ROLE_POOL_ADMIN] = "May do everything",
    };
    char below[48] = "";
    for (int r = ROLE_READ_ONLY; r <= ROLE_POOL_ADMIN; r++) {
        char key[32], uuid[40];
        snprintf(key, sizeof(key), "role/%s", role_name((enum role)r));
        const char *ref = model_ref_for(key);
        model_uuid_for(key, uuid);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "name_label", json_object_new_string(role_name((enum role)r)));
        json_object_object_add(o, "name_description", json_object_new_string(what[r]));
        json_object_object_add(o, "is_internal", json_object_new_boolean(0));
        json_object *sub = json_object_new_array();
        if (below[0])
            json_object_array_add(sub, json_object_new_string(below));
        json_object_object_add(o, "subroles", sub);
        model_put("role", ref, o);
        snprintf(below, sizeof(below), "%s", ref);
    }
}
