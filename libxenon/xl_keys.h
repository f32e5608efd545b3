/* Which config keys Xen's xl knows. Internal to libxenon. */
#ifndef XENON_XL_KEYS_H
#define XENON_XL_KEYS_H

#include <stdbool.h>

/* True when Xen 4.17's xl reads `key` from a domain config. */
bool xl_knows_key(const char *key);

#endif
