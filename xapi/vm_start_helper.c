/* `xenon-xapi --create-domain CFG --uuid UUID [--paused]`: the process
 * VM.start runs to create a domain from its definition with libxenon.
 * xenon_domain_create forks the domain's monitor, which lives on; forked
 * from the daemon it would keep the daemon's sockets and threads' state,
 * so the daemon spawns this fresh program for it instead. */
#include "vm_start_helper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "domain_config.h"
#include "vm_meta.h"
#include "xs_client.h"

static int parse_uuid(const char *s, uint8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        while (*s == '-')
            s++;
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
        s += 2;
    }
    return *s ? -1 : 0;
}

int vm_start_helper(const char *cfg, const char *uuid, bool paused)
{
    size_t len;
    char *data = vm_def_text(cfg, &len);
    if (!data && errno != EFBIG) {
        fprintf(stderr, "cannot read %s: %s\n", cfg, strerror(errno));
        return 1;
    }
    struct domain_config dc;
    domain_config_init(&dc);
    int parsed = data ? domain_config_parse(cfg, data, len, NULL, 0, stderr, &dc) : -1;
    if (parsed < 0) {
        free(data);
        fprintf(stderr, "cannot use the definition %s\n", cfg);
        domain_config_dispose(&dc);
        return 1;
    }
    if (!dc.uuid_given && uuid && parse_uuid(uuid, dc.uuid) == 0)
        dc.uuid_given = true;
    if (dc.type != DC_TYPE_PVH || !dc.kernel) {
        fprintf(stderr, "only pvh domains with a kernel can start\n");
        domain_config_dispose(&dc);
        free(data);
        return 1;
    }
    json_object *meta = vm_meta_read(cfg, data, len), *xd;
    free(data);
    domain_config_absolute_paths(&dc);
    struct xenon_paths p;
    xenon_paths_init(&p);
    char *json = domain_config_to_json(&dc);
    unsigned domid;
    /* Built paused, so that the VM's xenstore_data is there before the
     * guest runs (as XAPI writes it at domain build), then unpaused. */
    int rc = xenon_domain_create(&p, &dc, json, XENON_CREATE_PAUSED, &domid, NULL, stderr);
    free(json);
    domain_config_dispose(&dc);
    if (rc < 0) {
        json_object_put(meta);
        return 1;
    }
    if (json_object_object_get_ex(meta, "xenstore_data", &xd) &&
        json_object_object_length(xd) > 0) {
        struct xs_client *xs = xs_open(p.xs_path);
        json_object_object_foreach(xd, key, val) {
            char path[512];
            if (!vm_meta_xenstore_key_ok(key))
                continue;       /* a hand-written key the setters would refuse */
            snprintf(path, sizeof(path), "/local/domain/%u/%s", domid, key);
            if (!xs || xs_write(xs, path, json_object_get_string(val)) < 0)
                fprintf(stderr, "cannot write %s into xenstore\n", path);
        }
        if (xs)
            xs_close(xs);
    }
    json_object_put(meta);
    if (!paused && xenon_domain_unpause(&p, domid, stderr) < 0) {
        xenon_domain_destroy(&p, domid, stderr);
        return 1;
    }
    return 0;
}
