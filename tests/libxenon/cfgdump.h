/* Canonical text dumps of a parsed xl.cfg, one from our parser and one from
 * Debian's libxlutil (the reference), for differential tests: equal dumps
 * mean the same verdict, the same messages (text and lines) and the same
 * value for every key through every getter. */
#ifndef XENON_TEST_CFGDUMP_H
#define XENON_TEST_CFGDUMP_H

#include <stddef.h>

/* malloc'd dumps; NULL only on allocation failure. */
char *cfgdump_ours(const char *name, const char *data, size_t len);
char *cfgdump_xlu(const char *name, const char *data, size_t len);

#endif
