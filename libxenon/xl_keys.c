/* The keys Xen 4.17's xl reads from a domain config (tools/xl/xl_parse.c),
 * so that a key xl knows but Xenon does not act on gets a warning, and a key
 * xl does not know at all is ignored silently, as xl ignores it. */
#include "xl_keys.h"

#include <stdlib.h>
#include <string.h>

/* Sorted (strcmp order) for bsearch. */
static const char *const xl_keys[] = {
    "acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4",
    "altp2m", "altp2mhvm", "apic", "bios", "bios_path_override", "boot",
    "bootloader", "bootloader_args", "builder", "cap", "channel", "cmdline",
    "cpu_weight", "cpuid", "cpus", "cpus_soft", "device_model",
    "device_model_args", "device_model_override",
    "device_model_stubdomain_override", "device_model_stubdomain_seclabel",
    "device_model_user", "device_model_version", "device_tree", "disk",
    "display", "dm_restrict", "driver_domain", "dtdev", "e820_host", "extra",
    "extratime", "firmware", "firmware_override", "gfx_passthru",
    "gic_version", "hap", "hdtype", "hpet", "init_seclabel", "iomem",
    "ioports", "irqs", "kernel", "keymap", "latency", "localtime",
    "max_event_channels", "max_grant_frames", "max_grant_version",
    "max_maptrack_frames", "maxmem", "maxvcpus", "mca_caps", "memory",
    "mmio_hole", "ms_vm_genid", "msr_relaxed", "name", "nestedhvm",
    "nographic", "nomigrate", "nx", "on_crash", "on_poweroff", "on_reboot",
    "on_soft_reset", "on_watchdog", "oos", "opengl", "p9", "pae",
    "passthrough", "pci", "pci_msitranslate", "pci_permissive",
    "pci_power_mgmt", "pci_seize", "period", "pool", "pvcalls", "pvshim",
    "pvshim_cmdline", "pvshim_extra", "pvshim_path", "ramdisk", "rdm",
    "rdm_mem_boundary", "root", "rtc_timeoffset", "sdl", "seclabel", "serial",
    "shadow_memory", "slice", "smbios_firmware", "soundhw", "spice",
    "spice_clipboard_sharing", "spice_image_compression",
    "spice_streaming_video", "spiceagent_mouse", "spicedisable_ticketing",
    "spicehost", "spicepasswd", "spiceport", "spicetls_port",
    "spiceusbredirection", "spicevdagent", "stdvga", "stubdomain_cmdline",
    "stubdomain_kernel", "stubdomain_memory", "stubdomain_ramdisk", "tee",
    "timer_mode", "tsc_mode", "type", "usb", "usbctrl", "usbdev", "usbdevice",
    "usbversion", "uuid", "vcpus", "vdispl", "vendor_device", "vfb", "vga",
    "videoram", "vif", "vif2", "viridian", "vkb", "vkb_device",
    "vmtrace_buf_kb", "vnc", "vncdisplay", "vnclisten", "vncpasswd",
    "vncunused", "vncviewer", "vnuma", "vpmu", "vpt_align", "vsnd", "vtpm",
    "vuart", "xauthority", "xen_platform_pci", "xend_suspend_evtchn_compat",
};

static int cmp_key(const void *k, const void *e)
{
    return strcmp(k, *(const char *const *)e);
}

bool xl_knows_key(const char *key)
{
    return bsearch(key, xl_keys, sizeof(xl_keys) / sizeof(xl_keys[0]),
                   sizeof(xl_keys[0]), cmp_key) != NULL;
}
