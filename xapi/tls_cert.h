/* The HTTPS server's certificate: as XAPI does at first start, a
 * self-signed one (ECDSA P-256, SHA-256, CN = the host name, 10 years) is
 * made with GnuTLS when the file is missing. The file holds the private
 * key and the certificate, PEM, mode 0600 (set by the code, not the
 * umask), created atomically. */
#ifndef XAPI_TLS_CERT_H
#define XAPI_TLS_CERT_H

/* Read path, making it first if it does not exist. *key and *cert get
 * malloc'd PEM strings. 0 or -1 (logged). */
int tls_cert_load(const char *path, char **key, char **cert);

#endif
