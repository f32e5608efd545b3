/* The test guests' runtime: see guest.h. */
#include "guest.h"

#include <xen/arch-x86/cpuid.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/io/console.h>
#include <xen/memory.h>
#include <xen/sched.h>

const struct hvm_start_info *start_info;
uint8_t hypercall_page[4096] __attribute__((aligned(4096)));
struct shared_info *shared_info;
static uint8_t shared_info_page[4096] __attribute__((aligned(4096)));

int printk_to_debug_port;
static struct xencons_interface *cons_ring;
static uint32_t cons_port;
static unsigned nr_failed, nr_checks;

/* --- libc ---------------------------------------------------------------- */

/* String instructions: where guest code is emulated, one rep movsb/stosb
 * costs about what one instruction does, where a byte loop costs ~4 an
 * element. */
void *memset(void *d, int c, size_t n)
{
    void *p = d;
    __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
    return d;
}

/* A word a step, then the bytes left: the emulator walks the guest's page
 * tables for each step, so eight bytes a step cost what one does. */
void *memcpy(void *d, const void *s, size_t n)
{
    void *p = d;
    size_t words = n / sizeof(long), bytes = n % sizeof(long);
#if GUEST_BITS == 64
    __asm__ volatile("rep movsq" : "+D"(p), "+S"(s), "+c"(words) : : "memory");
#else
    __asm__ volatile("rep movsl" : "+D"(p), "+S"(s), "+c"(words) : : "memory");
#endif
    __asm__ volatile("rep movsb" : "+D"(p), "+S"(s), "+c"(bytes) : : "memory");
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

/* repne scasb: the first `c` in the n bytes at s, or NULL. One string
 * instruction, where a byte loop costs ~5 emulated instructions a byte. */
static const char *scan_byte(const char *s, char c, size_t n)
{
    const char *p = s;
    /* "memory": the scan reads an extent the compiler cannot name (an
     * unsized array operand is refused by clang). */
    __asm__ volatile("repne scasb" : "+D"(p), "+c"(n) : "a"(c) : "cc", "memory");
    /* Stopped one past a match, or past the end with none. */
    return p > s && p[-1] == c ? p - 1 : NULL;
}

size_t strlen(const char *s)
{
    return (size_t)(scan_byte(s, '\0', ~(size_t)0) - s);
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (uint8_t)*a - (uint8_t)*b;
}

/* --- port I/O ---------------------------------------------------------- */

void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void debug_write(const char *s, size_t n)
{
    while (n--)
        outb(0xe9, (uint8_t)*s++);
}

void uart_write(const char *s, size_t n)
{
    while (n--) {
        while (!(inb(0x3f8 + 5) & 0x20))
            ;
        outb(0x3f8, (uint8_t)*s++);
    }
}

/* --- hypercalls -------------------------------------------------------- */

long hypercall(unsigned nr, unsigned long a1, unsigned long a2,
               unsigned long a3, unsigned long a4, unsigned long a5)
{
    long ret;
    void *stub = hypercall_page + nr * 32;
#if GUEST_BITS == 64
    register unsigned long r10 __asm__("r10") = a4;
    register unsigned long r8 __asm__("r8") = a5;
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [stub] "r"(stub)
                     : "memory", "rcx", "r9", "r11");
#else
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)
                     : [stub] "m"(stub)
                     : "memory");
#endif
    return ret;
}

long evtchn_op(unsigned cmd, void *arg)
{
    return HYPERCALL2(__HYPERVISOR_event_channel_op, cmd, arg);
}

long hvm_get_param(unsigned idx, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = idx };
    long rc = HYPERCALL2(__HYPERVISOR_hvm_op, HVMOP_get_param, &p);
    *value = p.value;
    return rc;
}

void shutdown(unsigned reason)
{
    struct sched_shutdown s = { .reason = reason };
    HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_shutdown, &s);
    for (;;)
        __asm__ volatile("hlt");
}

int map_shared_info(void)
{
    struct xen_add_to_physmap x = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = (unsigned long)shared_info_page >> 12,
    };
    long rc = HYPERCALL2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &x);
    if (rc == 0)
        shared_info = (struct shared_info *)shared_info_page;
    return (int)rc;
}

uint64_t xen_system_time(void)
{
    volatile struct vcpu_time_info *t = &shared_info->vcpu_info[0].time;
    uint32_t ver;
    uint64_t ts, st, delta;
    uint32_t mul;
    int8_t shift;
    do {
        ver = t->version;
        __asm__ volatile("" ::: "memory");
        ts = t->tsc_timestamp;
        st = t->system_time;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        __asm__ volatile("" ::: "memory");
    } while ((ver & 1) || ver != t->version);
    delta = rdtsc() - ts;
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    /* (delta * mul) >> 32 without 128-bit arithmetic. */
    uint64_t lo = (delta & 0xffffffffu) * mul;
    uint64_t hi = (delta >> 32) * mul;
    return st + hi + (lo >> 32);
}

uint64_t rand64(void)
{
    static uint64_t s = 0x9e3779b97f4a7c15ull;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

/* --- PV console ---------------------------------------------------------- */

int pv_console_write(const char *s, size_t n)
{
    if (!cons_ring)
        return -1;
    while (n) {
        XENCONS_RING_IDX cons = cons_ring->out_cons, prod = cons_ring->out_prod;
        __asm__ volatile("" ::: "memory");
        size_t space = sizeof(cons_ring->out) - (prod - cons);
        if (space == 0) {
            struct evtchn_send send = { .port = cons_port };
            evtchn_op(EVTCHNOP_send, &send);
            HYPERCALL2(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
            continue;
        }
        size_t k = n < space ? n : space;
        /* In at most two pieces: up to the end of the ring, then from 0. */
        size_t at = MASK_XENCONS_IDX(prod, cons_ring->out);
        size_t first = k < sizeof(cons_ring->out) - at ? k : sizeof(cons_ring->out) - at;
        memcpy((char *)cons_ring->out + at, s, first);
        memcpy((char *)cons_ring->out, s + first, k - first);
        __asm__ volatile("" ::: "memory");
        cons_ring->out_prod = prod + (XENCONS_RING_IDX)k;
        s += k;
        n -= k;
        struct evtchn_send send = { .port = cons_port };
        evtchn_op(EVTCHNOP_send, &send);
    }
    return 0;
}

/* --- formatting ---------------------------------------------------------- */

static void put(char *buf, size_t size, size_t *pos, char c)
{
    if (*pos + 1 < size)
        buf[*pos] = c;
    (*pos)++;
}

/* 64-bit division by a small base without libgcc: 32-bit guests use two
 * 32-bit divides (the high half, then remainder:low half, whose quotient
 * fits in 32 bits because remainder < base). A bit-by-bit loop costs ~900
 * instructions a digit, which matters where guest code is emulated. */
static unsigned long long divmod(unsigned long long v, unsigned base,
                                 unsigned *rem)
{
#if GUEST_BITS == 64
    *rem = (unsigned)(v % base);
    return v / base;
#else
    uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
    uint32_t q_hi = hi / base, r = hi % base, q_lo;
    __asm__("divl %4" : "=a"(q_lo), "=d"(r) : "a"(lo), "d"(r), "rm"(base));
    *rem = r;
    return ((unsigned long long)q_hi << 32) | q_lo;
#endif
}

static void put_num(char *buf, size_t size, size_t *pos, unsigned long long v,
                    unsigned base, int neg, int width, char pad)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned digit;
        v = divmod(v, base, &digit);
        tmp[n++] = "0123456789abcdef"[digit];
    } while (v);
    if (neg)
        tmp[n++] = '-';
    while (n < width--)
        put(buf, size, pos, pad);
    while (n)
        put(buf, size, pos, tmp[--n]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t pos = 0;
    const char *fmt_end = fmt + strlen(fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            /* A run of literal text: found and copied by string
             * instructions, not a put() a byte (see scan_byte). */
            size_t rest = (size_t)(fmt_end - fmt);
            const char *pct = scan_byte(fmt, '%', rest);
            size_t len = pct ? (size_t)(pct - fmt) : rest;
            if (pos + 1 < size)
                memcpy(buf + pos, fmt, pos + len < size ? len : size - 1 - pos);
            pos += len;
            fmt += len - 1;
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l')
            longs++, fmt++;
        switch (*fmt) {
        case 'd': {
            long long v = longs >= 2 ? va_arg(ap, long long)
                          : longs ? va_arg(ap, long) : va_arg(ap, int);
            put_num(buf, size, &pos, v < 0 ? -(unsigned long long)v : (unsigned long long)v,
                    10, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = longs >= 2 ? va_arg(ap, unsigned long long)
                                   : longs ? va_arg(ap, unsigned long)
                                           : va_arg(ap, unsigned);
            put_num(buf, size, &pos, v, *fmt == 'x' ? 16 : 10, 0, width, pad);
            break;
        }
        case 'p':
            put(buf, size, &pos, '0');
            put(buf, size, &pos, 'x');
            put_num(buf, size, &pos, (unsigned long)va_arg(ap, void *), 16, 0, 0, ' ');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            for (s = s ? s : "(null)"; *s; s++)
                put(buf, size, &pos, *s);
            break;
        }
        case 'c':
            put(buf, size, &pos, (char)va_arg(ap, int));
            break;
        case '%':
            put(buf, size, &pos, '%');
            break;
        default:
            put(buf, size, &pos, '?');
            break;
        }
    }
    if (size)
        buf[pos < size ? pos : size - 1] = '\0';
    return (int)pos;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void printk(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    if (printk_to_debug_port)
        debug_write(buf, (size_t)n);
    else
        pv_console_write(buf, (size_t)n);
}

void check(const char *name, int ok, const char *fmt, ...)
{
    nr_checks++;
    if (ok) {
        printk("CHECK %s: ok\n", name);
        return;
    }
    nr_failed++;
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    printk("CHECK %s: FAIL %s\n", name, detail);
}

void finish(const char *guest)
{
    if (nr_failed)
        printk("RESULT %s: FAIL (%u of %u checks failed)\n", guest, nr_failed, nr_checks);
    else
        printk("RESULT %s: PASS (%u checks)\n", guest, nr_checks);
    shutdown(SHUTDOWN_poweroff);
}

/* --- start-up ------------------------------------------------------------ */

static void panic_early(const char *msg)
{
    debug_write(msg, strlen(msg));
    for (;;)
        __asm__ volatile("cli; hlt");
}

void guest_entry(const struct hvm_start_info *si);
void guest_entry(const struct hvm_start_info *si)
{
    start_info = si;
    if (si->magic != XEN_HVM_START_MAGIC_VALUE)
        panic_early("bad hvm_start_info magic\n");
#ifdef GUEST_NO_XEN
    /* A guest for any PVH-capable VMM: no Xen detection, no hypercalls. */
    guest_main();
    for (;;)
        __asm__ volatile("cli; hlt");
#endif

    uint32_t a, b, c, d, base;
    for (base = 0x40000000; base < 0x40010000; base += 0x100) {
        cpuid(base, 0, &a, &b, &c, &d);
        if (b == XEN_CPUID_SIGNATURE_EBX && c == XEN_CPUID_SIGNATURE_ECX &&
            d == XEN_CPUID_SIGNATURE_EDX && a - base >= 2)
            break;
    }
    if (base >= 0x40010000)
        panic_early("no Xen signature in CPUID\n");
    cpuid(base + 2, 0, &a, &b, &c, &d);
    uint64_t page = (uintptr_t)hypercall_page;
    __asm__ volatile("wrmsr" : : "c"(b), "a"((uint32_t)page), "d"((uint32_t)(page >> 32)));

    uint64_t pfn, port;
    if (hvm_get_param(HVM_PARAM_CONSOLE_PFN, &pfn) == 0 &&
        hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &port) == 0) {
        cons_ring = (struct xencons_interface *)(uintptr_t)(pfn << 12);
        cons_port = (uint32_t)port;
    }
    guest_main();
    finish("guest");
}
