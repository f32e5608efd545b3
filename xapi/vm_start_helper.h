/* The helper VM.start spawns (vm_start_helper.c). Exit status 0 when the
 * domain runs; errors on stderr. */
#ifndef XAPI_VM_START_HELPER_H
#define XAPI_VM_START_HELPER_H

#include <stdbool.h>

int vm_start_helper(const char *cfg, const char *uuid, bool paused);

#endif
