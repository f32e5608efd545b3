/* Self-signed certificate at first start (tls_cert.h). */
#include "tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define KEY_BEGIN "-----BEGIN "
#define CERT_BEGIN "-----BEGIN CERTIFICATE-----"

static int write_file(const char *path, const char *a, const char *b)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    size_t la = strlen(a), lb = strlen(b);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, a, la) == (ssize_t)la &&
              write(fd, b, lb) == (ssize_t)lb && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int make(const char *path)
{
    gnutls_x509_privkey_t key = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t kp = { 0 }, cp = { 0 };
    struct utsname u;
    uname(&u);
    uint8_t serial[16];
    int rc = getrandom(serial, sizeof(serial), 0) == sizeof(serial) ? 0 : -1;
    serial[0] &= 0x7f;      /* a positive integer */
    time_t now = time(NULL);
    if (rc == 0 && (gnutls_x509_privkey_init(&key) < 0 ||
                    gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
                    gnutls_x509_crt_init(&crt) < 0 ||
                    gnutls_x509_crt_set_version(crt, 3) < 0 ||
                    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
                    gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
                    gnutls_x509_crt_set_expiration_time(crt, now + 3650L * 24 * 3600) < 0 ||
                    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, u.nodename,
                                                  (unsigned)strlen(u.nodename)) < 0 ||
                    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, u.nodename,
                                                         (unsigned)strlen(u.nodename),
                                                         GNUTLS_FSAN_SET) < 0 ||
                    gnutls_x509_crt_set_key(crt, key) < 0 ||
                    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
                    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
                    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ||
                    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kp) < 0 ||
                    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cp) < 0))
        rc = -1;
    if (rc == 0) {
        /* NUL-terminated copies for write_file */
        char *k = strndup((const char *)kp.data, kp.size), *c = strndup((const char *)cp.data, cp.size);
        rc = k && c ? write_file(path, k, c) : -1;
        free(k);
        free(c);
    }
    gnutls_free(kp.data);
    gnutls_free(cp.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    if (rc == 0)
        log_msg(LOG_INFO, "made a self-signed certificate for %s in %s", u.nodename, path);
    return rc;
}

int tls_cert_load(const char *path, char **key, char **cert)
{
    *key = *cert = NULL;
    if (access(path, F_OK) < 0 && errno == ENOENT && make(path) < 0) {
        log_msg(LOG_ERR, "cannot make a certificate in %s: %s", path, strerror(errno));
        return -1;
    }
    FILE *f = fopen(path, "re");
    if (!f) {
        log_msg(LOG_ERR, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = calloc(1, 65537);
    size_t n = text ? fread(text, 1, 65536, f) : 0;
    fclose(f);
    char *c = text ? strstr(text, CERT_BEGIN) : NULL;
    char *k = text ? strstr(text, KEY_BEGIN) : NULL;
    if (!c || !k || k == c || n == 65536) {
        log_msg(LOG_ERR, "%s: expected a PEM private key then a certificate", path);
        free(text);
        return -1;
    }
    if (k < c) {
        *key = strndup(k, (size_t)(c - k));
        *cert = strdup(c);
    } else {
        *cert = strndup(c, (size_t)(k - c));
        *key = strdup(k);
    }
    free(text);
    return *key && *cert ? 0 : -1;
}
