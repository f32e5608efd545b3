/* vbd_nbd_flush_socket on one socket, for nbd_flush.py: exit 0 when the
 * server acknowledged the flush, else 1 with the step on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vbd_nbd.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
        return 2;
    }
    const char *why = "";
    int rc = vbd_nbd_flush_socket(argv[1], 3000, &why);
    if (rc < 0) {
        fprintf(stderr, "flush failed: %s: %s\n", why, strerror(-rc));
        return 1;
    }
    return 0;
}
