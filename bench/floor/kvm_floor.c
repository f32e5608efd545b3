/*
 * The floor of a launch on this host: the least a KVM process can do to
 * show a guest's first output. Open /dev/kvm, create a VM with one memory
 * slot and one vCPU, run real-mode code that writes one byte to a port,
 * copy that byte to stdout, exit. Nothing else: no ELF, no Xen ABI, no
 * I/O thread. Linked statically, like xenon-vmm, so both pay the same exec.
 *
 * bench/vmm/launch.py and bench/xl/launch.py divide their launch times by
 * this program's start-to-first-byte, measured in the same run.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE 0x1000
#define PORT 0xe9

/* mov $'F', %al; out %al, $0xe9; hlt */
static const uint8_t code[] = { 0xb0, 'F', 0xe6, PORT, 0xf4 };

static int fail(const char *what)
{
    perror(what);
    return 1;
}

int main(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        return fail("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        return fail("KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return fail("mmap");
    memcpy(mem, code, sizeof(code));
    struct kvm_userspace_memory_region slot = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
        .userspace_addr = (uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
        return fail("KVM_SET_USER_MEMORY_REGION");
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size <= 0)
        return fail("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
                               MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return fail("mmap kvm_run");

    /* Real mode at 0:0. */
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return fail("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = 0, .rflags = 0x2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return fail("KVM_SET_REGS");

    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0)
            return fail("KVM_RUN");
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == PORT &&
            run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 1) {
            const char *byte = (const char *)run + run->io.data_offset;
            if (write(STDOUT_FILENO, byte, 1) != 1)
                return fail("write");
            return 0;
        }
        if (run->exit_reason == KVM_EXIT_HLT) {
            fprintf(stderr, "kvm-floor: guest halted before its write\n");
            return 1;
        }
        fprintf(stderr, "kvm-floor: unexpected exit %u\n", run->exit_reason);
        return 1;
    }
}
