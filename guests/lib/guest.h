/*
 * The freestanding runtime every test guest links against: Xen detection,
 * the hypercall page, shared info, the PV console, output and verdicts.
 *
 * A guest defines `void guest_main(void)`; the runtime has already found
 * Xen, installed the hypercall page and printed nothing. Verdict lines the
 * test suite reads: "CHECK <name>: ok" / "CHECK <name>: FAIL <detail>" and
 * finally "RESULT <guest>: PASS" or "RESULT <guest>: FAIL (<n> failed)".
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/arch-x86/hvm/start_info.h>

#if defined(__x86_64__)
#define GUEST_BITS 64
#else
#define GUEST_BITS 32
#endif

extern const struct hvm_start_info *start_info;
extern uint8_t hypercall_page[4096];
extern struct shared_info *shared_info;   /* NULL until map_shared_info() */

void guest_main(void);

/* --- hypercalls through the page -------------------------------------- */

long hypercall(unsigned nr, unsigned long a1, unsigned long a2,
               unsigned long a3, unsigned long a4, unsigned long a5);
#define HYPERCALL0(nr) hypercall(nr, 0, 0, 0, 0, 0)
#define HYPERCALL1(nr, a) hypercall(nr, (unsigned long)(a), 0, 0, 0, 0)
#define HYPERCALL2(nr, a, b) \
    hypercall(nr, (unsigned long)(a), (unsigned long)(b), 0, 0, 0)
#define HYPERCALL3(nr, a, b, c) \
    hypercall(nr, (unsigned long)(a), (unsigned long)(b), (unsigned long)(c), 0, 0)

long evtchn_op(unsigned cmd, void *arg);
long hvm_get_param(unsigned idx, uint64_t *value);
void shutdown(unsigned reason) __attribute__((noreturn));

/* Map shared info at a page of our own RAM (as Linux does). */
int map_shared_info(void);

/* --- output ------------------------------------------------------------ */

void outb(uint16_t port, uint8_t v);
uint8_t inb(uint16_t port);
void debug_write(const char *s, size_t n);      /* port 0xe9 */
void uart_write(const char *s, size_t n);       /* 16550 at 0x3f8 */
int pv_console_write(const char *s, size_t n);  /* ring + notify; <0 error */

/* printf to the PV console (and nowhere else), or to the debug port when
 * printk_to_debug_port is set (for guests that may break their console). */
extern int printk_to_debug_port;
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- verdicts ------------------------------------------------------------ */

void check(const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define CHECK(name, cond) check(name, (cond), "%s", #cond)
#define CHECK_EQ(name, got, want)                                          \
    do {                                                                   \
        long long g_ = (long long)(got), w_ = (long long)(want);           \
        check(name, g_ == w_, "got %lld, want %lld", g_, w_);              \
    } while (0)
/* Print the RESULT line and power off (reboot/crash tests use shutdown()). */
void finish(const char *guest) __attribute__((noreturn));

/* --- small libc ------------------------------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
                         uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                     : "a"(leaf), "c"(sub));
}

/* Xen system time from our vcpu_info's pvclock. */
uint64_t xen_system_time(void);

/* A small PRNG for the hostile guest. */
uint64_t rand64(void);

#endif
