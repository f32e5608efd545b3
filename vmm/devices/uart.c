#include "uart.h"
#include "domain.h"
#include "exits.h"

#include <string.h>

#include "serial.h"

#define LCR_DLAB 0x80
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NONE 0x01
#define MSR_DCD_DSR_CTS 0xb0

void uart_sink_write(struct domain *d, const char *buf, size_t len)
{
    serial_write(d, buf, len);      /* queued: never waits for host I/O */
}

static void uart_access(struct domain *d, unsigned reg, bool out, uint8_t *data,
                        unsigned size);

/* vCPUs share the UART: its registers are read and written under the
 * domain lock. */
void uart_io(struct domain *d, unsigned reg, bool out, uint8_t *data,
             unsigned size)
{
    pthread_mutex_lock(&d->lock);
    uart_access(d, reg, out, data, size);
    pthread_mutex_unlock(&d->lock);
}

static void uart_access(struct domain *d, unsigned reg, bool out, uint8_t *data,
                        unsigned size)
{
    struct uart *u = &d->uart_state;
    bool dlab = u->lcr & LCR_DLAB;
    if (out) {
        uint8_t v = data[0];
        switch (reg) {
        case 0:
            if (dlab)
                u->dll = v;
            else
                uart_sink_write(d, (const char *)&v, 1);
            break;
        case 1:
            if (dlab)
                u->dlm = v;
            else
                u->ier = v & 0x0f;
            break;
        case 3: u->lcr = v; break;
        case 4: u->mcr = v & 0x1f; break;
        case 7: u->scr = v; break;
        default: break;     /* FCR, LSR and MSR writes have no effect here */
        }
        return;
    }
    uint8_t v = 0;
    switch (reg) {
    case 0: v = dlab ? u->dll : 0; break;
    case 1: v = dlab ? u->dlm : u->ier; break;
    case 2: v = IIR_NONE; break;
    case 3: v = u->lcr; break;
    case 4: v = u->mcr; break;
    case 5: v = LSR_THRE | LSR_TEMT; break;
    case 6: v = MSR_DCD_DSR_CTS; break;
    case 7: v = u->scr; break;
    }
    for (unsigned i = 0; i < size; i++)
        data[i] = v;
}

static void on_uart_port(struct vcpu *v, uint16_t port, bool out,
                         uint8_t *data, unsigned size, unsigned count,
                         void *opaque)
{
    (void)opaque;
    for (unsigned i = 0; i < count; i++)
        uart_io(v->d, port - UART_BASE, out, data + (size_t)i * size, size);
}

static void on_debug_port(struct vcpu *v, uint16_t port, bool out,
                          uint8_t *data, unsigned size, unsigned count,
                          void *opaque)
{
    (void)port;
    (void)opaque;
    for (unsigned i = 0; i < count; i++) {
        uint8_t *p = data + (size_t)i * size;
        if (out)
            uart_sink_write(v->d, (char *)p, 1);
        else
            memset(p, DEBUG_PORT, size);
    }
}

int uart_register_exits(struct domain *d)
{
    int rc = exits_register_ports(&d->exits, UART_BASE, 8, on_uart_port, NULL);
    return rc < 0 ? rc : exits_register_ports(&d->exits, DEBUG_PORT, 1,
                                              on_debug_port, NULL);
}
