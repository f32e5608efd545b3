/* Renaming a domain (domain.h): what xl migrate does to its two copies,
 * NAME--migratedaway on the sender and NAME--incoming on the receiver,
 * as libxl_domain_rename does it. */
#include "domain_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xs_client.h"

/* The recorded config (STATE_DIR/domain-N.json) under the new name, so a
 * later save or restart carries it: c_info's name, the first "name"
 * member as domain_config_json.c writes it. Names are plain text
 * (xenon_domain_rename refuses quotes, backslashes, control bytes). */
static void rename_json(const struct xenon_paths *p, unsigned domid, const char *name)
{
    char *json = xenon_domain_config_json(p, domid);
    if (!json)
        return;
    char *at = strstr(json, "\"name\":");
    char *v = at ? at + 7 : NULL;
    while (v && *v == ' ')
        v++;
    char *close_q = v && *v == '"' ? strchr(v + 1, '"') : NULL;
    if (close_q && !memchr(v + 1, '\\', (size_t)(close_q - v - 1))) {
        size_t len = (size_t)(v + 1 - json) + strlen(name) + strlen(close_q) + 1;
        char *out = malloc(len);
        if (out) {
            snprintf(out, len, "%.*s%s%s", (int)(v + 1 - json), json, name, close_q);
            write_json(p, domid, out);
            free(out);
        }
    }
    free(json);
}

/* The name in xenstore (the domain's and its /vm/UUID's) in one
 * transaction whose writes and commit go in one batch: xenstored makes a
 * batch durable with one journal sync, and a migration's renames are part
 * of its downtime (two writes apart cost two syncs and two round trips).
 * A conflict is retried; any other failure leaves the nodes as they were
 * and is not the rename's failure (the state file is what xl reads). */
static void rename_nodes(struct xs_client *xs, unsigned domid, const char *name)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        if (xs_transaction_begin(xs) < 0)
            return;
        char *vm = xs_readf(xs, "/local/domain/%u/vm", domid);
        xs_pipeline_begin(xs);
        xs_printf(xs, name, "/local/domain/%u/name", domid);
        if (vm && strncmp(vm, "/vm/", 4) == 0 && vm[4])
            xs_printf(xs, name, "%s/name", vm);
        free(vm);
        if (xs_pipeline_commit(xs) != -EAGAIN)
            return;
    }
}

int xenon_domain_rename(const struct xenon_paths *p, unsigned domid, const char *expect,
                        const char *name, FILE *err)
{
    bool plain = true;
    for (const char *c = name; *c; c++)
        plain = plain && (unsigned char)*c >= 0x20 && *c != '"' && *c != '\\' && *c != 0x7f;
    if (!name[0] || !plain || strlen(name) >= sizeof(((struct dstate *)0)->name)) {
        fprintf(err, "domain %u: the name \"%s\" does not fit\n", domid, name);
        return -1;
    }
    int lock = lock_state(p);
    if (lock < 0) {
        fprintf(err, "cannot lock the state directory\n");
        return -1;
    }
    struct dstate s;
    int rc = -1;
    if (state_read(p, domid, &s) < 0) {
        fprintf(err, "domain %u: no such domain\n", domid);
        goto out;
    }
    if (expect && strcmp(s.name, expect) != 0) {
        fprintf(err, "domain %u is called \"%s\", not \"%s\"\n", domid, s.name, expect);
        goto out;
    }
    unsigned other = state_name_get(p, name);     /* checked against its state file */
    if (other && other != domid) {
        fprintf(err, "libxl: error: Domain with name \"%s\" already exists.\n", name);
        goto out;
    }
    struct xs_client *xs = xs_connect(p, err);
    if (!xs)
        goto out;
    rename_nodes(xs, domid, name);
    xs_close(xs);
    state_name_drop(p, s.name, domid);
    snprintf(s.name, sizeof(s.name), "%s", name);
    rc = state_write(p, domid, &s);
    state_name_set(p, name, domid);
    rename_json(p, domid, name);
    if (rc < 0)
        fprintf(err, "domain %u: cannot write its state file\n", domid);
out:
    close(lock);
    return rc < 0 ? -1 : 0;
}

void xenon_domain_forget_vm(const struct xenon_paths *p, unsigned domid)
{
    int lock = lock_state(p);
    struct dstate s;
    if (state_read(p, domid, &s) == 0) {
        s.uuid[0] = '\0';
        state_write(p, domid, &s);
    }
    if (lock >= 0)
        close(lock);
    struct xs_client *xs = xs_connect(p, NULL);
    if (xs) {
        char node[64];
        snprintf(node, sizeof(node), "/local/domain/%u/vm", domid);
        xs_rm(xs, node);
        xs_close(xs);
    }
}
