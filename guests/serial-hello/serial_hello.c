/*
 * serial-hello: a PVH guest that needs no Xen at all. It writes one line
 * to the UART at once and powers off through the ACPI-less "debug exit"
 * (it simply halts; the benchmark stops it after the first line). Used to
 * compare boot-to-first-byte with other VMMs booting the same image.
 */
#include "guest.h"

void guest_main(void)
{
    static const char msg[] = "Hello from a PVH guest on the UART\n";
    uart_write(msg, sizeof(msg) - 1);
}
