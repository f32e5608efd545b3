/*
 * A 16550-compatible UART at 0x3f8 (transmit side; receive reports no
 * data), the 0xe9 debug port (Bochs/QEMU's debugcon: a write prints a byte,
 * a read returns 0xe9), and the "serial sink": where UART bytes, the debug
 * port and console_io writes go (the VMM's stdout and/or a log file).
 */
#ifndef XENON_UART_H
#define XENON_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_BASE 0x3f8
#define DEBUG_PORT 0xe9

struct domain;

struct uart {
    uint8_t ier, lcr, mcr, scr, dll, dlm;
};

void uart_io(struct domain *d, unsigned reg, bool out, uint8_t *data,
             unsigned size);
void uart_sink_write(struct domain *d, const char *buf, size_t len);

/* Claim the UART's eight ports and the debug port (exits.h). */
int uart_register_exits(struct domain *d);

#endif
