/* The host side of a vif (libxenon/vif_host.c): names, libxl's default MAC,
 * the hotplug script's arguments and environment, and (as root, in a
 * network namespace of its own with a bridge inside it) a real tap plugged
 * into a bridge by system/scripts/vif-bridge and taken out again. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vif_host.h"

static bool have_netns;     /* root, and in a namespace of our own */

static void names_as_xen_gives_them(void **state)
{
    (void)state;
    char n[IFNAMSIZ];
    assert_int_equal(vif_ifname(n, 7, 0, NULL), 0);
    assert_string_equal(n, "vif7.0");
    assert_int_equal(vif_ifname(n, 32000, 12, ""), 0);
    assert_string_equal(n, "vif32000.12");
    assert_int_equal(vif_ifname(n, 1, 0, "myvif"), 0);
    assert_string_equal(n, "myvif");
    assert_int_equal(vif_ifname(n, 1, 0, "a-name-far-too-long"), -ENAMETOOLONG);
}

static void default_mac_is_libxls(void **state)
{
    (void)state;
    uint8_t m[6], m2[6];
    vif_random_mac(m);
    vif_random_mac(m2);
    assert_int_equal(m[0], 0x00);
    assert_int_equal(m[1], 0x16);
    assert_int_equal(m[2], 0x3e);
    assert_int_equal(m[3] & 0x80, 0);
    char s[18];
    vif_format_mac(m, s);
    assert_int_equal(strlen(s), 17);
    assert_memory_equal(s, "00:16:3e:", 9);
    /* Random: two draws differ (24 bits; a clash is 1 in 8 million). */
    assert_memory_not_equal(m + 3, m2 + 3, 3);
}

/* A script that records its arguments and environment. */
static void script_gets_xens_arguments_and_environment(void **state)
{
    (void)state;
    char dir[] = "/tmp/xenon-vif-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[128], out[160];
    snprintf(script, sizeof(script), "%s/record", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "#!/bin/sh\n{ echo \"args=$*\"; env | sort; } > %s\nexit 3\n", out);
    fclose(f);
    chmod(script, 0755);
    setenv("XENON_SCRIPT_DIR", dir, 1);
    struct vif_hotplug h = { .script = "record", .online = true, .domid = 9,
        .devid = 2, .ifname = "vif9.2", .bridge = "br7", .ip = "10.0.0.9",
        .mac = "00:16:3e:01:02:03" };
    assert_int_equal(vif_hotplug_run(&h), 3);
    char buf[4096] = { 0 };
    f = fopen(out, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    static const char *const want[] = {
        "args=online type_if=vif\n", "XENBUS_PATH=backend/vif/9/2\n",
        "XENBUS_TYPE=vif\n", "XENBUS_BASE_PATH=backend\n", "vif=vif9.2\n",
        "bridge=br7\n", "ip=10.0.0.9\n", "mac=00:16:3e:01:02:03\n", "netdev=\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!strstr(buf, want[i]))
            fail_msg("missing %s in:\n%s", want[i], buf);
    }
    char ws[200];
    snprintf(ws, sizeof(ws), "script=%s\n", script);
    assert_non_null(strstr(buf, ws));
    /* Nothing of our own environment leaks into it. */
    setenv("XENON_SECRET_TEST", "1", 1);
    h.online = false;
    assert_int_equal(vif_hotplug_run(&h), 3);
    f = fopen(out, "r");
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_non_null(strstr(buf, "args=offline type_if=vif\n"));
    assert_null(strstr(buf, "XENON_SECRET_TEST"));
    h.script = "missing";
    assert_int_equal(vif_hotplug_run(&h), -ENOENT);
    unlink(out);
    unlink(script);
    rmdir(dir);
    unsetenv("XENON_SECRET_TEST");
}

static bool exists(const char *fmt, const char *a, const char *b)
{
    char p[256];
    snprintf(p, sizeof(p), fmt, a, b);
    return access(p, F_OK) == 0;
}

static long sysfs_long(const char *ifname, const char *what, int base)
{
    char p[128], buf[64] = { 0 };
    snprintf(p, sizeof(p), "/sys/class/net/%s/%s", ifname, what);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? strtol(buf, NULL, base) : -1;
}

/* The script's requests on its descriptor 3 (online only): antispoof=1 is
 * taken, anything else ignored; a script that says nothing asks nothing. */
static void script_asks_for_antispoofing(void **state)
{
    (void)state;
    char dir[] = "/tmp/xenon-vif-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[128], out[160];
    snprintf(script, sizeof(script), "%s/asker", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    FILE *f = fopen(script, "w");
    fprintf(f, "#!/bin/sh\nenv > %s\n"
            "[ -n \"${XENON_BACKEND_FD:-}\" ] || exit 0\n"
            "echo 'rm -rf /' >&$XENON_BACKEND_FD\n"
            "echo antispoof=1 >&$XENON_BACKEND_FD\n", out);
    fclose(f);
    chmod(script, 0755);
    setenv("XENON_SCRIPT_DIR", dir, 1);
    struct vif_hotplug h = { .script = "asker", .online = true, .domid = 9, .devid = 0,
                             .ifname = "vif9.0", .mac = "00:16:3e:01:02:03" };
    assert_int_equal(vif_hotplug_run(&h), 0);
    assert_true(h.antispoof);
    char buf[4096] = { 0 };
    f = fopen(out, "r");
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_non_null(strstr(buf, "XENON_BACKEND_FD=3\n"));
    h.online = false;               /* offline: no descriptor, nothing asked */
    assert_int_equal(vif_hotplug_run(&h), 0);
    assert_false(h.antispoof);
    f = fopen(out, "r");
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_null(strstr(buf, "XENON_BACKEND_FD"));
    f = fopen(script, "w");         /* one that says nothing */
    fprintf(f, "#!/bin/sh\nexit 0\n");
    fclose(f);
    h.online = true;
    assert_int_equal(vif_hotplug_run(&h), 0);
    assert_false(h.antispoof);
    unlink(out);
    unlink(script);
    rmdir(dir);
}

static void tap_plugged_into_a_bridge_and_out(void **state)
{
    (void)state;
    if (!have_netns)
        skip();
    const char *src = getenv("XENON_SOURCE_ROOT");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/system/scripts", src ? src : ".");
    setenv("XENON_SCRIPT_DIR", dir, 1);
    assert_int_equal(system("ip link add xenbrT type bridge && "
                            "ip link set xenbrT mtu 1400 && ip link set xenbrT up"), 0);

    int fd = vif_tap_open("vif7.0");
    assert_true(fd >= 0);
    assert_true(exists("/sys/class/net/%s%s", "vif7.0", ""));
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    assert_int_equal(ioctl(fd, TUNGETIFF, &ifr), 0);
    assert_int_equal(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
                     IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    /* A second open of the same name is refused while the first lives. */
    assert_true(vif_tap_open("vif7.0") < 0);

    struct vif_hotplug h = { .script = "vif-bridge", .online = true, .domid = 7,
        .devid = 0, .ifname = "vif7.0", .bridge = "xenbrT" };
    assert_int_equal(vif_hotplug_run(&h), 0);
    assert_true(exists("/sys/class/net/%s/brif/%s", "xenbrT", "vif7.0"));
    assert_int_equal(sysfs_long("vif7.0", "mtu", 10), 1400);
    assert_int_equal(vif_ifname_mtu("vif7.0"), 1400);
    assert_true(sysfs_long("vif7.0", "flags", 16) & IFF_UP);
    char addr[64] = { 0 };
    FILE *f = fopen("/sys/class/net/vif7.0/address", "r");
    assert_non_null(fgets(addr, sizeof(addr), f));
    fclose(f);
    assert_string_equal(addr, "fe:ff:ff:ff:ff:ff\n");

    /* A bridge that is not there: the script fails, as Xen's does. */
    h.bridge = "nosuchbr";
    assert_int_not_equal(vif_hotplug_run(&h), 0);
    h.bridge = "xenbrT";

    h.online = false;
    assert_int_equal(vif_hotplug_run(&h), 0);
    assert_false(exists("/sys/class/net/%s/brif/%s", "xenbrT", "vif7.0"));
    close(fd);
    /* The tap dies with its fd: nothing is left. */
    assert_false(exists("/sys/class/net/%s%s", "vif7.0", ""));
    assert_int_equal(system("ip link del xenbrT"), 0);
}

int main(void)
{
    /* A network namespace, and a sysfs that shows it (as ip netns exec
     * mounts one). */
    if (getuid() == 0 && unshare(CLONE_NEWNET | CLONE_NEWNS) == 0 &&
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        umount2("/sys", MNT_DETACH) == 0 &&
        mount("sysfs", "/sys", "sysfs", 0, NULL) == 0)
        have_netns = true;
    else
        fprintf(stderr, "not root or no network namespace: the tap test is skipped\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_as_xen_gives_them),
        cmocka_unit_test(default_mac_is_libxls),
        cmocka_unit_test(script_gets_xens_arguments_and_environment),
        cmocka_unit_test(script_asks_for_antispoofing),
        cmocka_unit_test(tap_plugged_into_a_bridge_and_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
