/*
 * A 16550-compatible UART at 0x3f8 (transmit side; receive reports no
 * data). uart_sink_write() hands UART bytes, the 0xe9 debug port and
 * console_io writes to the serial sink (backends/serial.h), which queues
 * them for the I/O thread. uart_io() takes the domain lock itself.
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
