/* xen_version and console_io. */
#include "hypercall.h"
#include "domain.h"
#include "uart.h"

#include <string.h>
#include <xen/errno.h>
#include <xen/features.h>
#include <xen/version.h>
#include <xen/xen.h>

static long write_str(struct hcall *h, const char *s, size_t size)
{
    char buf[1024] = { 0 };
    strncpy(buf, s, size - 1);
    return guest_write(h, h->arg[1], buf, size);
}

long hc_xen_version(struct hcall *h)
{
    switch (h->arg[0]) {
    case XENVER_version:
        return (XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR;
    case XENVER_extraversion:
        return write_str(h, ".0-xenon", sizeof(xen_extraversion_t));
    case XENVER_compile_info: {
        xen_compile_info_t ci;
        memset(&ci, 0, sizeof(ci));
        strcpy(ci.compiler, "xenon");
        strcpy(ci.compile_by, "xenon");
        strcpy(ci.compile_domain, "xenon");
        strcpy(ci.compile_date, __DATE__);
        return guest_write(h, h->arg[1], &ci, sizeof(ci));
    }
    case XENVER_capabilities:
        return write_str(h, "hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64",
                         sizeof(xen_capabilities_info_t));
    case XENVER_changeset:
        return write_str(h, "xenon", sizeof(xen_changeset_info_t));
    case XENVER_platform_parameters: {
        /* HVM guests have no hypervisor hole in their address space. */
        uint64_t virt_start = 0;
        return guest_write(h, h->arg[1], &virt_start, h->compat ? 4 : 8);
    }
    case XENVER_get_features: {
        xen_feature_info_t fi;
        if (guest_read(h, h->arg[1], &fi, sizeof(fi)))
            return -XEN_EFAULT;
        fi.submap = 0;
        if (fi.submap_idx == 0)
            fi.submap = (1u << XENFEAT_writable_page_tables) |
                        (1u << XENFEAT_auto_translated_physmap) |
                        (1u << XENFEAT_hvm_callback_vector) |
                        (1u << XENFEAT_hvm_safe_pvclock);
        return guest_write(h, h->arg[1], &fi, sizeof(fi));
    }
    case XENVER_pagesize:
        return GMEM_PAGE_SIZE;
    case XENVER_guest_handle: {
        xen_domain_handle_t uuid;
        memcpy(uuid, h->d->uuid, sizeof(uuid));
        return guest_write(h, h->arg[1], uuid, sizeof(uuid));
    }
    case XENVER_commandline:
    case XENVER_build_id:
        return -XEN_EPERM;      /* privileged domains only */
    default:
        hcall_log_enosys(h, "xen_version", (unsigned)h->arg[0]);
        return -XEN_ENOSYS;
    }
}

/* Bytes of a CONSOLEIO_write copied per exit; the rest goes to a
 * continuation. */
#define CONSOLE_BYTES_PER_EXIT 16384u

/* CONSOLEIO_write goes to the domain's serial log, as a Xen debug build
 * lets every domain write the hypervisor console. Reading Xen's console
 * is for the control domain only. */
long hc_console_io(struct hcall *h)
{
    uint64_t count = h->arg[1] & 0xffffffffull;
    switch (h->arg[0]) {
    case CONSOLEIO_write: {
        char buf[256];
        uint64_t done = 0, now = count < CONSOLE_BYTES_PER_EXIT
                                     ? count : CONSOLE_BYTES_PER_EXIT;
        while (done < now) {
            size_t n = now - done < sizeof(buf) ? (size_t)(now - done)
                                                 : sizeof(buf);
            if (guest_read(h, h->arg[2] + done, buf, n))
                return -XEN_EFAULT;
            uart_sink_write(h->d, buf, n);
            done += n;
        }
        if (done < count) {         /* the rest in a continuation */
            h->arg[1] = count - done;
            h->arg[2] += done;
            return hcall_continue(h);
        }
        return 0;
    }
    case CONSOLEIO_read:
        return -XEN_EPERM;
    default:
        return -XEN_ENOSYS;
    }
}
