#include "vm.h"
#include "hypercall.h"
#include "kvm.h"
#include "platform.h"
#include "dirty.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xen/arch-x86/cpuid.h>

#include "log.h"

static int enable_cap(int fd, uint32_t cap, uint64_t arg0)
{
    struct kvm_enable_cap ec = { .cap = cap, .args = { arg0 } };
    return ioctl(fd, KVM_ENABLE_CAP, &ec) < 0 ? -errno : 0;
}

/* Send reads and writes of the MSRs that modules registered (exits.h) to
 * userspace; everything else keeps KVM's handling. The hypercall page MSR
 * collides with Hyper-V's GUEST_OS_ID inside KVM, so without the filter
 * KVM would swallow it. */
static int install_msr_filter(struct domain *d)
{
    int rc = enable_cap(d->pvm->vm_fd, KVM_CAP_X86_USER_SPACE_MSR,
                        KVM_MSR_EXIT_REASON_FILTER);
    if (rc < 0)
        return rc;
    static uint8_t deny = 0;    /* one MSR per range, bit clear = deny -> exit */
    struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };
    _Static_assert(EXITS_MAX_MSRS <= KVM_MSR_FILTER_MAX_RANGES,
                   "one filter range per registered MSR");
    for (unsigned i = 0; i < d->exits.nr_msrs; i++)
        f.ranges[i] = (struct kvm_msr_filter_range){
            .flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
            .nmsrs = 1,
            .base = d->exits.msr[i].index,
            .bitmap = &deny,
        };
    return ioctl(d->pvm->vm_fd, KVM_X86_SET_MSR_FILTER, &f) < 0 ? -errno : 0;
}

static int set_slot(struct domain *d, unsigned i, bool present)
{
    if (i >= gmem_nr_regions(&d->mem))
        return -EINVAL;
    const struct gmem_region *r = &d->mem.region[i];
    struct kvm_userspace_memory_region m = {
        .slot = i,
        .guest_phys_addr = r->gpa,
        .flags = present && __atomic_load_n(&d->pvm->dirty_logging, __ATOMIC_ACQUIRE)
                 ? KVM_MEM_LOG_DIRTY_PAGES : 0,
        .memory_size = present ? r->size : 0,   /* size 0 deletes the slot */
        .userspace_addr = (uintptr_t)r->host,
    };
    return ioctl(d->pvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0 ? -errno : 0;
}

int platform_map_region(struct domain *d, unsigned i)
{
    return set_slot(d, i, true);
}

int platform_unmap_region(struct domain *d, unsigned i)
{
    return set_slot(d, i, false);
}

/* Dirty logging: KVM_MEM_LOG_DIRTY_PAGES on every slot (set_slot), the
 * VMM's own log beside it. Why the bitmap and not the ring: platform.h. */
static int set_all_slots(struct domain *d)
{
    for (unsigned i = 0; i < gmem_nr_regions(&d->mem); i++) {
        int rc = set_slot(d, i, true);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int platform_dirty_log_start(struct domain *d)
{
    struct platform_vm *pvm = d->pvm;
    if (pvm->dirty_logging)
        return 0;
    if (!pvm->manual_protect &&
        ioctl(pvm->kvm_fd, KVM_CHECK_EXTENSION,
              KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0)
        pvm->manual_protect = enable_cap(pvm->vm_fd,
            KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
            KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) == 0;
    int rc = gmem_dirty_start(&d->mem);
    if (rc < 0)
        return rc;
    /* A region mapped from here on (a vCPU's hypercall) is logged by its
     * own set_slot; one mapped before is in set_all_slots. */
    __atomic_store_n(&pvm->dirty_logging, true, __ATOMIC_RELEASE);
    rc = set_all_slots(d);
    if (rc < 0) {
        log_err("KVM dirty logging: %s", strerror(-rc));
        platform_dirty_log_stop(d);
    } else {
        log_info("dom%u: dirty logging on (KVM dirty bitmap%s)", d->domid,
                 pvm->manual_protect ? ", manual protect" : "");
    }
    return rc;
}

void platform_dirty_log_stop(struct domain *d)
{
    if (!__atomic_load_n(&d->pvm->dirty_logging, __ATOMIC_ACQUIRE))
        return;
    __atomic_store_n(&d->pvm->dirty_logging, false, __ATOMIC_RELEASE);
    gmem_dirty_stop(&d->mem);
    int rc = set_all_slots(d);
    if (rc < 0)
        log_err("KVM dirty logging off: %s", strerror(-rc));
}

int platform_dirty_log_fetch(struct domain *d, uint64_t *bitmap,
                             uint64_t nr_pfns, uint64_t *count)
{
    struct platform_vm *pvm = d->pvm;
    if (!pvm->dirty_logging)
        return -EINVAL;
    uint64_t total = 0;
    for (unsigned i = 0; i < gmem_nr_regions(&d->mem); i++) {
        const struct gmem_region *r = &d->mem.region[i];
        uint64_t pages = r->size >> GMEM_PAGE_SHIFT;
        size_t words = DIRTY_WORDS(pages);
        if (words > pvm->dirty_scratch_words) {
            uint64_t *b = realloc(pvm->dirty_scratch, words * 8);
            if (!b)
                return -ENOMEM;
            pvm->dirty_scratch = b;
            pvm->dirty_scratch_words = words;
        }
        /* KVM writes whole longs of the bitmap; ours are 64-bit words. */
        memset(pvm->dirty_scratch, 0, words * 8);
        struct kvm_dirty_log log = { .slot = i,
                                     .dirty_bitmap = pvm->dirty_scratch };
        if (ioctl(pvm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
            if (errno == ENOENT)
                continue;           /* a region taken away (unmapped) */
            return -errno;
        }
        uint64_t n = dirty_merge(bitmap, nr_pfns, r->gpa >> GMEM_PAGE_SHIFT,
                                 pvm->dirty_scratch, pages);
        total += n;
        if (pvm->manual_protect && n) {
            struct kvm_clear_dirty_log clr = {
                .slot = i, .num_pages = (uint32_t)pages, .first_page = 0,
                .dirty_bitmap = pvm->dirty_scratch };
            if (ioctl(pvm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr) < 0)
                return -errno;
        }
    }
    total += gmem_dirty_fetch(&d->mem, bitmap, nr_pfns);
    if (count)
        *count = total;
    return 0;
}

/* A VM made ahead by vm_prepare (a standby's), for the next vm_create. */
static struct {
    int kvm_fd, vm_fd;
} prepared = { -1, -1 };

void vm_prepare(void)
{
    if (prepared.vm_fd >= 0)
        return;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int vm = kvm >= 0 && ioctl(kvm, KVM_GET_API_VERSION, 0) == KVM_API_VERSION
                 ? ioctl(kvm, KVM_CREATE_VM, 0) : -1;
    if (vm < 0) {
        if (kvm >= 0)
            close(kvm);
        return;         /* vm_create tries again, and says why it fails */
    }
    prepared.kvm_fd = kvm;
    prepared.vm_fd = vm;
    /* Whatever path ends the process before vm_create takes it. */
    atexit(vm_prepare_drop);
}

void vm_prepare_drop(void)
{
    if (prepared.vm_fd >= 0) {
        close(prepared.vm_fd);
        close(prepared.kvm_fd);
    }
    prepared.kvm_fd = prepared.vm_fd = -1;
}

int vm_create(struct domain *d)
{
    d->pvm = calloc(1, sizeof(*d->pvm));
    if (!d->pvm)
        return -ENOMEM;
    d->pvm->kvm_fd = d->pvm->vm_fd = -1;
    for (unsigned i = 0; i < MAX_VCPUS; i++)
        d->pvm->vcpu[i].fd = -1;
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        d->vcpu[i].pv = &d->pvm->vcpu[i];
    if (prepared.vm_fd >= 0) {
        d->pvm->kvm_fd = prepared.kvm_fd;
        d->pvm->vm_fd = prepared.vm_fd;
        prepared.kvm_fd = prepared.vm_fd = -1;
        goto made;
    }
    d->pvm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (d->pvm->kvm_fd < 0) {
        int e = errno;
        log_err("cannot open /dev/kvm: %s", strerror(e));
        return -e;
    }
    if (ioctl(d->pvm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        log_err("unsupported KVM API version");
        return -ENOTSUP;
    }
    d->pvm->vm_fd = ioctl(d->pvm->kvm_fd, KVM_CREATE_VM, 0);
    if (d->pvm->vm_fd < 0) {
        int e = errno;
        log_err("KVM_CREATE_VM: %s", strerror(e));
        return -e;
    }
made:
    d->pvm->run_size = ioctl(d->pvm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (d->pvm->run_size <= 0)
        return -errno;

    /* Intel needs these two pages reserved below 4 GiB; they sit in the
     * MMIO hole above our special pages. */
    ioctl(d->pvm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
    uint64_t ident = 0xfffbc000ull;
    ioctl(d->pvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);

    int rc = enable_cap(d->pvm->vm_fd, KVM_CAP_SPLIT_IRQCHIP, 24);
    if (rc < 0) {
        log_err("KVM split irqchip: %s", strerror(-rc));
        return rc;
    }
    rc = install_msr_filter(d);
    if (rc < 0) {
        log_err("KVM MSR filter: %s", strerror(-rc));
        return rc;
    }
    for (unsigned i = 0; i < gmem_nr_regions(&d->mem); i++) {
        rc = platform_map_region(d, i);
        if (rc < 0) {
            log_err("KVM memory slot %u: %s", i, strerror(-rc));
            return rc;
        }
    }
    return 0;
}

enum { MAX_ENT = 256 };

int platform_get_cpuid(struct vcpu *v, struct platform_cpuid_leaf *out, unsigned cap,
                       unsigned *n)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX_ENT * sizeof(c->entries[0]));
    if (!c)
        return -ENOMEM;
    c->nent = MAX_ENT;
    int rc = 0;
    if (v->pv->cpuid)
        memcpy(c, v->pv->cpuid, sizeof(*c) + v->pv->cpuid->nent * sizeof(c->entries[0]));
    else
        rc = ioctl(v->pv->fd, KVM_GET_CPUID2, c) < 0 ? -errno : 0;
    *n = 0;
    for (unsigned i = 0; rc == 0 && i < c->nent && *n < cap; i++) {
        const struct kvm_cpuid_entry2 *e = &c->entries[i];
        out[(*n)++] = (struct platform_cpuid_leaf){
            .leaf = e->function, .subleaf = e->index,
            .has_index = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
            .a = e->eax, .b = e->ebx, .c = e->ecx, .d = e->edx,
        };
    }
    free(c);
    return rc;
}

/* The host's supported CPUID (`host`, read once per domain) minus KVM's own
 * hypervisor leaves, plus Xen's leaves for this vCPU. */
static int set_cpuid(struct domain *d, struct vcpu *v, const struct kvm_cpuid2 *host)
{
    struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX_ENT * sizeof(c->entries[0]));
    if (!c)
        return -ENOMEM;
    unsigned n = 0;
    for (unsigned i = 0; i < host->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[n];
        *e = host->entries[i];
        if (e->function >= 0x40000000 && e->function < 0x50000000)
            continue;
        if (e->function == 1) {
            e->ecx |= 1u << 31;                 /* hypervisor present */
            e->ebx = (e->ebx & 0x00ffffff) | (v->id << 24);   /* APIC id */
        }
        n++;
    }
    const uint32_t base = XEN_CPUID_FIRST_LEAF;
    const uint32_t limit = XEN_CPUID_MAX_NUM_LEAVES;
    struct kvm_cpuid_entry2 xen[] = {
        { .function = base + 0, .eax = base + limit,
          .ebx = XEN_CPUID_SIGNATURE_EBX, .ecx = XEN_CPUID_SIGNATURE_ECX,
          .edx = XEN_CPUID_SIGNATURE_EDX },
        { .function = base + 1,
          .eax = (XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR },
        { .function = base + 2, .eax = 1, .ebx = XEN_HYPERCALL_MSR },
        { .function = base + 3, .index = 0,
          .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
          .eax = 1u << 1 /* TSC is safe */, .ebx = 0 /* tsc_mode default */,
          .ecx = (uint32_t)d->tsc_khz, .edx = 1 },
        { .function = base + 3, .index = 1,
          .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
          .ecx = d->tsc_mul, .edx = (uint32_t)(int32_t)d->tsc_shift },
        { .function = base + 3, .index = 2,
          .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
          .eax = (uint32_t)d->tsc_khz },
        { .function = base + 4, .index = 0,
          .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
          .eax = XEN_HVM_CPUID_IOMMU_MAPPINGS | XEN_HVM_CPUID_VCPU_ID_PRESENT |
                 XEN_HVM_CPUID_DOMID_PRESENT | XEN_HVM_CPUID_UPCALL_VECTOR,
          .ebx = v->id, .ecx = d->domid },
        { .function = base + 5 },
    };
    for (unsigned i = 0; i < sizeof(xen) / sizeof(xen[0]) && n < MAX_ENT; i++)
        c->entries[n++] = xen[i];
    c->nent = n;
    int rc = ioctl(v->pv->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
    if (rc == 0) {
        /* Kept for the domain's life (platform_get_cpuid): its n entries,
         * not the 10 KiB of MAX_ENT, which start-up's trim gives back. */
        size_t bytes = sizeof(*c) + n * sizeof(c->entries[0]);
        struct kvm_cpuid2 *keep = malloc(bytes);
        if (keep) {
            memcpy(keep, c, bytes);
            free(c);
            c = keep;
        }
        free(v->pv->cpuid);
        v->pv->cpuid = c;
        return 0;
    }
    free(c);
    return rc;
}

int vm_create_vcpus(struct domain *d)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        v->pv->fd = ioctl(d->pvm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
        if (v->pv->fd < 0) {
            int e = errno;
            log_err("KVM_CREATE_VCPU %u: %s", i, strerror(e));
            return -e;
        }
        v->pv->run = mmap(NULL, (size_t)d->pvm->run_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED, v->pv->fd, 0);
        if (v->pv->run == MAP_FAILED) {
            v->pv->run = NULL;
            return -errno;
        }
    }
    return 0;
}


/*
 * KVM_GET_SUPPORTED_CPUID costs ~0.4 ms on a nested host (every CPUID the
 * kernel executes exits to the outer hypervisor) and needs no VM, so it
 * runs on a short-lived thread from the start of main() while the kernel
 * is read and loaded and the VM and vCPUs are made; vm_set_cpuid_all takes
 * its result. The thread has its own /dev/kvm fd and touches nothing else.
 */
static struct {
    pthread_t thread;
    bool started;
    int err;                    /* 0, or the positive errno of the ioctl */
    struct kvm_cpuid2 *host;
} prefetch;

static struct kvm_cpuid2 *read_supported_cpuid(int kvm_fd, int *err)
{
    struct kvm_cpuid2 *host = calloc(1, sizeof(*host) + MAX_ENT * sizeof(host->entries[0]));
    if (!host) {
        *err = ENOMEM;
        return NULL;
    }
    host->nent = MAX_ENT;
    if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, host) < 0) {
        *err = errno;
        free(host);
        return NULL;
    }
    *err = 0;
    return host;
}

static void *prefetch_thread(void *arg)
{
    (void)arg;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        prefetch.err = errno;
        return NULL;
    }
    prefetch.host = read_supported_cpuid(fd, &prefetch.err);
    close(fd);
    return NULL;
}

void vm_prefetch_host_cpuid(void)
{
    if (prefetch.started)
        return;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return;
    /* One ioctl deep, but the vCPU's size (VCPU_STACK_BYTES): once joined,
     * its stack waits in libc's cache and becomes vCPU 0's. */
    pthread_attr_setstacksize(&attr, VCPU_STACK_BYTES);
    /* Signals stay with the threads that read the signalfd. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    prefetch.started = pthread_create(&prefetch.thread, &attr, prefetch_thread, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

int vm_set_cpuid_all(struct domain *d)
{
    /* One KVM_GET_SUPPORTED_CPUID for the domain, not one per vCPU:
     * the prefetched one, else (no thread, or its ioctl failed) ours. */
    struct kvm_cpuid2 *host = NULL;
    int e = 0;
    if (prefetch.started) {
        pthread_join(prefetch.thread, NULL);
        prefetch.started = false;
        host = prefetch.host;
        prefetch.host = NULL;
    }
    if (!host)
        host = read_supported_cpuid(d->pvm->kvm_fd, &e);
    if (!host) {
        log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
        return -e;
    }
    int rc = 0;
    for (unsigned i = 0; i < d->nr_vcpus && rc == 0; i++) {
        rc = set_cpuid(d, &d->vcpu[i], host);
        if (rc < 0)
            log_err("KVM_SET_CPUID2 vCPU %u: %s", i, strerror(-rc));
    }
    free(host);
    return rc;
}

int platform_inject_vector(struct domain *d, unsigned vcpu, uint8_t vector)
{
    /* A fixed-delivery, physical-destination MSI to the vCPU's APIC. */
    struct kvm_msi msi = {
        .address_lo = 0xfee00000u | (vcpu << 12),
        .data = vector,
    };
    return ioctl(d->pvm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

int vm_queue_extint(struct vcpu *v, uint8_t vector)
{
    struct kvm_interrupt irq = { .irq = vector };
    return ioctl(v->pv->fd, KVM_INTERRUPT, &irq) < 0 ? -errno : 0;
}

#define APIC_BASE_ENABLE (1u << 11)
#define APIC_LVT0 0x350
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_MODE_MASK (7u << 8)
#define APIC_LVT_MODE_EXTINT (7u << 8)

bool vm_lapic_takes_extint(struct vcpu *v, uint64_t apic_base)
{
    if (!(apic_base & APIC_BASE_ENABLE))
        return true;
    struct kvm_lapic_state lapic;
    if (ioctl(v->pv->fd, KVM_GET_LAPIC, &lapic) < 0)
        return false;
    uint32_t lvt0;
    memcpy(&lvt0, lapic.regs + APIC_LVT0, sizeof(lvt0));
    return !(lvt0 & APIC_LVT_MASKED) &&
           (lvt0 & APIC_LVT_MODE_MASK) == APIC_LVT_MODE_EXTINT;
}

void vm_destroy(struct domain *d)
{
    if (!d->pvm)
        return;
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = &d->vcpu[i];
        if (v->pv->run)
            munmap(v->pv->run, (size_t)d->pvm->run_size);
        if (v->pv->fd > 0)
            close(v->pv->fd);
        free(v->pv->cpuid);
    }
    if (d->pvm->vm_fd > 0)
        close(d->pvm->vm_fd);
    if (d->pvm->kvm_fd > 0)
        close(d->pvm->kvm_fd);
    free(d->pvm->dirty_scratch);
    free(d->pvm);
    d->pvm = NULL;
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        d->vcpu[i].pv = NULL;
}
