/* Only in the statically linked xenon-vmm: Debian's libnbd.a refers to
 * GnuTLS (NBD over TLS) and libxml2 (nbd_connect_uri), whose static
 * archives cannot be linked here (GnuTLS needs p11-kit, which Debian ships
 * as a shared library only). blkback uses neither: it never asks for TLS
 * (libnbd's default is LIBNBD_TLS_DISABLE) and connects to a socket the
 * toolstack hands over, never to a URI, so libnbd never reaches these.
 * Should it ever, the VMM stops at once rather than jump to nowhere. The
 * dynamically linked builds (sanitizers, fuzzing) use the real libraries. */
#include <stdlib.h>

#define UNREACHABLE(sym)                                                    \
    void sym(void);                                                         \
    void sym(void) { abort(); }

UNREACHABLE(gnutls_bye)
UNREACHABLE(gnutls_certificate_allocate_credentials)
UNREACHABLE(gnutls_certificate_free_credentials)
UNREACHABLE(gnutls_certificate_set_x509_crl_file)
UNREACHABLE(gnutls_certificate_set_x509_key_file)
UNREACHABLE(gnutls_certificate_set_x509_system_trust)
UNREACHABLE(gnutls_certificate_set_x509_trust_file)
UNREACHABLE(gnutls_cipher_get)
UNREACHABLE(gnutls_cipher_get_key_size)
UNREACHABLE(gnutls_cipher_get_name)
UNREACHABLE(gnutls_credentials_set)
UNREACHABLE(gnutls_deinit)
UNREACHABLE(gnutls_error_is_fatal)
UNREACHABLE(gnutls_handshake)
UNREACHABLE(gnutls_handshake_get_last_in)
UNREACHABLE(gnutls_handshake_get_last_out)
UNREACHABLE(gnutls_handshake_set_timeout)
UNREACHABLE(gnutls_init)
UNREACHABLE(gnutls_kx_get)
UNREACHABLE(gnutls_kx_get_name)
UNREACHABLE(gnutls_mac_get)
UNREACHABLE(gnutls_mac_get_key_size)
UNREACHABLE(gnutls_mac_get_name)
UNREACHABLE(gnutls_priority_set_direct)
UNREACHABLE(gnutls_psk_allocate_client_credentials)
UNREACHABLE(gnutls_psk_free_client_credentials)
UNREACHABLE(gnutls_psk_set_client_credentials)
UNREACHABLE(gnutls_record_check_pending)
UNREACHABLE(gnutls_record_get_direction)
UNREACHABLE(gnutls_record_recv)
UNREACHABLE(gnutls_record_send)
UNREACHABLE(gnutls_server_name_set)
UNREACHABLE(gnutls_session_set_verify_cert)
UNREACHABLE(gnutls_strerror)
UNREACHABLE(gnutls_transport_is_ktls_enabled)
UNREACHABLE(gnutls_transport_set_int2)
UNREACHABLE(xmlFreeURI)
UNREACHABLE(xmlParseURI)
UNREACHABLE(xmlSaveUri)
UNREACHABLE(xmlURIUnescapeString)
