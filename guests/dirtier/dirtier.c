/*
 * dirtier: the guest a live migration is measured against. Needs no Xen
 * (built with GUEST_NO_XEN), so the same image boots under Xenon and QEMU
 * microvm. From ring 3 (native speed on these hosts; ring 0 is emulated),
 * with IOPL 3 for the debug port:
 *   1. fills touch MiB of memory from DIRTIER_BASE with a pattern that is
 *      neither zero nor repeating (so neither side can skip or squeeze it);
 *   2. then dirties `rate` pages per millisecond, forever, walking the
 *      touched pages in order (each write one 8-byte counter), paced by
 *      the TSC; a guest held up (stopped for a migration) does not catch
 *      up in a burst: it goes on at the rate from where it is;
 *   3. prints on the debug port (0xe9), once the touch is done,
 *        DIRTIER ready touch_mib=T rate=R tsc_khz=K source=S
 *      and then every second
 *        DIRTIER beat=N dirtied=D
 *      (the beat counts seconds of the guest's TSC).
 * With check=1 (the tests) each write goes to word 0 of its page, and at
 * every beat the guest checks all touched memory: word 0 of page p holds
 * the last count written there (the pages are walked in order, so it is
 * known from the count alone) or the pattern if none was, every other
 * word the pattern; it prints
 *   DIRTIER check ok beat=N   or   DIRTIER check FAIL beat=N page=P word=W
 * (a page a migration lost or sent stale fails it).
 * Parameters on the kernel command line: touch=MiB (default 64),
 * rate=pages-per-ms (default 0: only the touch), check=1, beat=ms
 * (default 1000: the heartbeat's period), tsc_khz=K (default: from
 * CPUID, Xen's leaf 0x40000003, KVM's 0x40000010, or leaf 0x15; else
 * 2 GHz, said so as source=guess). The guest needs DIRTIER_BASE + touch
 * MiB of RAM: 96 MiB for the default, 256 MiB for the benches.
 */
#include "guest.h"

#include <xen/arch-x86/cpuid.h>

#define DIRTIER_BASE (32ull << 20)
#define PAGE 4096ull

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint64_t touch_mib = 64, rate, tsc_khz, check_on, beat_ms = 1000;
static const char *tsc_source = "cmdline";

/* The value of "key=" on the command line, or -1. */
static long long cmdline_value(const char *key)
{
    if (!start_info || !start_info->cmdline_paddr)
        return -1;
    const char *s = (const char *)(uintptr_t)start_info->cmdline_paddr;
    size_t kl = strlen(key);
    for (const char *p = s; *p; p++) {
        if ((p == s || p[-1] == ' ') && !memcmp(p, key, kl) && p[kl] == '=') {
            long long v = 0;
            for (p += kl + 1; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (*p - '0');
            return v;
        }
    }
    return -1;
}

static uint64_t find_tsc_khz(void)
{
    uint32_t a, b, c, d;
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        cpuid(base, 0, &a, &b, &c, &d);
        if (b == XEN_CPUID_SIGNATURE_EBX && c == XEN_CPUID_SIGNATURE_ECX &&
            d == XEN_CPUID_SIGNATURE_EDX && a >= base + 3) {
            cpuid(base + 3, 0, &a, &b, &c, &d);
            if (c) {
                tsc_source = "xen";
                return c;
            }
        }
    }
    cpuid(0x40000000, 0, &a, &b, &c, &d);
    if (b == 0x4b4d564b && a >= 0x40000010) {       /* "KVMKVMKVM" */
        cpuid(0x40000010, 0, &a, &b, &c, &d);
        if (a) {
            tsc_source = "kvm";
            return a;
        }
    }
    cpuid(0, 0, &a, &b, &c, &d);
    if (a >= 0x15) {
        cpuid(0x15, 0, &a, &b, &c, &d);
        if (a && b && c) {
            tsc_source = "cpuid15";
            return (uint64_t)c * b / a / 1000;
        }
    }
    tsc_source = "guess";
    return 2000000;
}

/* The debug port (0xe9; QEMU's -debugcon, Xenon's serial output). Not
 * the UART: under xenon-vmm on these hosts an `in` or `out` to 0x3f8 from
 * ring 3 stops the guest with a fault while 0xe9 and 0x80 work (under
 * QEMU both work); left to find out. */
static void debug_put(const char *s, size_t n)
{
    while (n--)
        __asm__ volatile("outb %0, %1" : : "a"(*s++), "Nd"((uint16_t)0xe9));
}

static void say(const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    debug_put(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

#define PATTERN_SEED 0x9e3779b97f4a7c15ull

static uint64_t pattern_next(uint64_t x)
{
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* check=1: all touched memory as the writes so far (counts below
 * `dirtied`) must have left it. */
static void check_memory(const uint64_t *mem, uint64_t pages, uint64_t dirtied,
                         uint64_t beat)
{
    uint64_t x = PATTERN_SEED;
    for (uint64_t i = 0; i < pages * (PAGE / 8); i++) {
        x = pattern_next(x);
        uint64_t want = x, p = i / (PAGE / 8);
        if (i % (PAGE / 8) == 0 && dirtied > p)
            want = p + (dirtied - 1 - p) / pages * pages;
        if (mem[i] != want) {
            say("DIRTIER check FAIL beat=%llu page=%llu word=%llu\n",
                (unsigned long long)beat, (unsigned long long)p,
                (unsigned long long)(i % (PAGE / 8)));
            return;
        }
    }
    say("DIRTIER check ok beat=%llu\n", (unsigned long long)beat);
}

static void user_main(void)
{
    uint64_t *mem = (uint64_t *)(uintptr_t)DIRTIER_BASE;
    uint64_t pages = touch_mib << 8;
    uint64_t x = PATTERN_SEED;
    for (uint64_t i = 0; i < pages * (PAGE / 8); i++) {
        x = pattern_next(x);
        mem[i] = x;
    }
    say("DIRTIER ready touch_mib=%llu rate=%llu tsc_khz=%llu source=%s\n",
        (unsigned long long)touch_mib, (unsigned long long)rate,
        (unsigned long long)tsc_khz, tsc_source);

    const uint64_t second = tsc_khz * beat_ms;
    const uint64_t per_page = rate ? tsc_khz / rate : 0;   /* ticks */
    const uint64_t slack = tsc_khz * 10;                    /* 10 ms */
    uint64_t now = rdtsc(), next = now, beat_at = now + second;
    uint64_t dirtied = 0, beat = 0, page = 0;
    for (;;) {
        now = rdtsc();
        if (per_page) {
            if (now - next > slack && (int64_t)(now - next) > 0)
                next = now;         /* held up: no catching up */
            while ((int64_t)(now - next) >= 0) {
                mem[page * (PAGE / 8) + (check_on ? 0 : dirtied % (PAGE / 8))] = dirtied;
                page = page + 1 == pages ? 0 : page + 1;
                dirtied++;
                next += per_page;
            }
        }
        if ((int64_t)(now - beat_at) >= 0) {
            beat++;
            say("DIRTIER beat=%llu dirtied=%llu\n", (unsigned long long)beat,
                (unsigned long long)dirtied);
            if (check_on)
                check_memory(mem, pages, dirtied, beat);
            beat_at += second;
            if ((int64_t)(now - beat_at) > 0)
                beat_at = now + second;
        }
        __asm__ volatile("pause");
    }
}

void guest_main(void)
{
    long long v;
    if ((v = cmdline_value("touch")) >= 0)
        touch_mib = (uint64_t)v;
    if ((v = cmdline_value("rate")) >= 0)
        rate = (uint64_t)v;
    if ((v = cmdline_value("check")) >= 0)
        check_on = (uint64_t)v;
    if ((v = cmdline_value("beat")) > 0)
        beat_ms = (uint64_t)v;
    if ((v = cmdline_value("tsc_khz")) > 0)
        tsc_khz = (uint64_t)v;
    else
        tsc_khz = find_tsc_khz();
    /* iretq to ring 3: user code 0x23, user data 0x1b, IOPL 3, IF clear. */
    __asm__ volatile("pushq $0x1b\n\t"
                     "pushq %0\n\t"
                     "pushq $0x3002\n\t"
                     "pushq $0x23\n\t"
                     "pushq %1\n\t"
                     "iretq"
                     : : "r"(user_stack + sizeof(user_stack)), "r"(user_main)
                     : "memory");
}
