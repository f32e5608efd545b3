/* PAM conversation that answers every password prompt with the password
 * the client sent (pam_auth.h). */
#include "pam_auth.h"

#include <security/pam_appl.h>
#include <stdlib.h>
#include <string.h>

static const char *service = "xenon-xapi";
static const char *confdir;

void pam_auth_config(const char *s, const char *dir)
{
    if (s)
        service = s;
    confdir = dir;
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp,
                void *data)
{
    if (n <= 0 || n > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    struct pam_response *r = calloc((size_t)n, sizeof(*r));
    if (!r)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            r[i].resp = strdup((const char *)data);
            if (!r[i].resp) {
                for (int j = 0; j < i; j++)
                    free(r[j].resp);
                free(r);
                return PAM_BUF_ERR;
            }
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

int pam_auth_check(const char *user, const char *password)
{
    struct pam_conv c = { conv, (void *)password };
    pam_handle_t *h = NULL;
    int rc = pam_start_confdir(service, user, &c, confdir, &h);
    if (rc == PAM_SUCCESS)
        rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    if (rc == PAM_SUCCESS)
        rc = pam_acct_mgmt(h, PAM_SILENT);
    if (h)
        pam_end(h, rc);
    return rc == PAM_SUCCESS ? 0 : -1;
}
