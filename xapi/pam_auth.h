/* Password check through PAM (service --pam-service, default
 * "xenon-xapi"; system/pam.d/xenon-xapi is the installed stack). */
#ifndef XAPI_PAM_AUTH_H
#define XAPI_PAM_AUTH_H

/* service: PAM service name; confdir: where its file is (NULL: /etc/pam.d). */
void pam_auth_config(const char *service, const char *confdir);

/* 0 when PAM accepts user/password (auth and account), -1 otherwise. */
int pam_auth_check(const char *user, const char *password);

#endif
