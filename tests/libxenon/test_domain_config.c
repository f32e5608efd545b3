/* Unit tests: domain_config defaults and checks, cpus/vif/disk helpers,
 * overrides, JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg.h"
#include "domain_config.h"

/* Build from text; returns rc, *msgs gets everything printed. */
static int build(const char *text, struct domain_config *dc, char **msgs)
{
    size_t sz;
    FILE *m = open_memstream(msgs, &sz);
    int rc;

    domain_config_init(dc);
    rc = domain_config_parse("t.cfg", text, strlen(text), NULL, 0, m, dc);
    fclose(m);
    return rc;
}

static void test_defaults(void **state)
{
    struct domain_config dc;
    char *msgs;

    (void)state;
    assert_int_equal(build("name = \"d\"\n", &dc, &msgs), 0);
    assert_string_equal(msgs, "");
    assert_string_equal(dc.name, "d");
    assert_int_equal(dc.type, DC_TYPE_PV);
    assert_int_equal(dc.max_memkb, 32 * 1024);
    assert_int_equal(dc.target_memkb, 32 * 1024);
    assert_int_equal(dc.max_vcpus, 1);
    assert_int_equal(dc.avail_vcpus, 1);
    assert_int_equal(dc.sched_weight, 256);
    assert_int_equal(dc.sched_cap, 0);
    assert_int_equal(dc.on_poweroff, DC_ACTION_DESTROY);
    assert_int_equal(dc.on_reboot, DC_ACTION_RESTART);
    assert_int_equal(dc.on_watchdog, DC_ACTION_DESTROY);
    assert_int_equal(dc.on_crash, DC_ACTION_DESTROY);
    assert_int_equal(dc.on_soft_reset, DC_ACTION_SOFT_RESET);
    assert_false(dc.uuid_given);
    assert_int_equal(dc.uuid[6] >> 4, 4);
    assert_int_equal(dc.max_grant_frames, -1);
    assert_null(dc.cmdline);
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_memory_vcpus(void **state)
{
    struct domain_config dc;
    char *msgs;

    (void)state;
    assert_int_equal(build("name='m'\nmemory=512\nvcpus=\"2\"\n", &dc, &msgs),
                     0);
    assert_int_equal(dc.target_memkb, 512 * 1024);
    assert_int_equal(dc.max_memkb, 512 * 1024);   /* maxmem = memory */
    assert_int_equal(dc.avail_vcpus, 2);
    assert_int_equal(dc.max_vcpus, 2);            /* maxvcpus = vcpus */
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='m'\nmaxmem=1024\nvcpus=2\nmaxvcpus=8\n",
                           &dc, &msgs), 0);
    assert_int_equal(dc.max_memkb, 1024 * 1024);
    assert_int_equal(dc.target_memkb, 1024 * 1024);
    assert_int_equal(dc.max_vcpus, 8);
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='m'\nvcpus=4\nmaxvcpus=2\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "xl: maxvcpus < vcpus\n");
    domain_config_dispose(&dc);
    free(msgs);

    /* KiB beyond int64 (found by fuzz_domain_config: xl overflows). */
    assert_int_equal(build("name='m'\nmaxmem = 22222222222222222\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "t.cfg:2: maxmem = 22222222222222222: not a size in "
                        "MiB from 0 to 9007199254740991\n");
    domain_config_dispose(&dc);
    free(msgs);
    assert_int_equal(build("name='m'\nmemory = \"-1\"\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "t.cfg:2: memory = -1: not a size in MiB from 0 to "
                        "9007199254740991\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='m'\nmemory=\"lots\"\n", &dc, &msgs), 0);
    assert_string_equal(msgs, "t.cfg:2: warning: parameter `memory' is not a "
                        "valid number\n");
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_errors(void **state)
{
    struct domain_config dc;
    char *msgs;

    (void)state;
    assert_int_equal(build("memory = 8\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "Domain name must be specified.\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\ntype='kvm'\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "Invalid domain type kvm.\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\non_crash='explode'\n", &dc, &msgs), -1);
    assert_string_equal(msgs,
                        "Unknown on_crash action \"explode\" specified\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\nuuid='not-a-uuid'\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "Failed to parse UUID: not-a-uuid\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name = foo\n", &dc, &msgs), -1);
    assert_string_equal(msgs,
        "t.cfg:1: config parsing error near `foo': syntax error, unexpected "
        "IDENT, expecting STRING or NUMBER or '['\n"
        "Failed to parse config: Invalid argument\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\ndisk=['/x,raw']\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "t.cfg: config parsing error in disk "
                        "specification: no vdev specified in `/x,raw'\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\nvif=['rate=10XB/s']\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "t.cfg: config parsing error in vif: invalid "
                        "rate in `10XB/s'\n");
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_types_and_actions(void **state)
{
    struct domain_config dc;
    char *msgs;

    (void)state;
    assert_int_equal(build("name='x'\ntype='pvh'\non_poweroff='preserve'\n"
                           "on_reboot='rename-restart'\n"
                           "on_watchdog='coredump-destroy'\n"
                           "on_crash='coredump-restart'\n", &dc, &msgs), 0);
    assert_int_equal(dc.type, DC_TYPE_PVH);
    assert_int_equal(dc.on_poweroff, DC_ACTION_PRESERVE);
    assert_int_equal(dc.on_reboot, DC_ACTION_RENAME_RESTART);
    assert_int_equal(dc.on_watchdog, DC_ACTION_COREDUMP_DESTROY);
    assert_int_equal(dc.on_crash, DC_ACTION_COREDUMP_RESTART);
    domain_config_dispose(&dc);
    free(msgs);

    /* xl compares type as a prefix: "h" is hvm */
    assert_int_equal(build("name='x'\ntype='h'\n", &dc, &msgs), 0);
    assert_int_equal(dc.type, DC_TYPE_HVM);
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\nbuilder='hvm'\n", &dc, &msgs), 0);
    assert_int_equal(dc.type, DC_TYPE_HVM);
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\ntype='pv'\nbuilder='hvm'\n", &dc,
                           &msgs), -1);
    assert_string_equal(msgs, "Contradicting \"builder\" and \"type\" "
                        "options specified.\n");
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_cmdline(void **state)
{
    struct domain_config dc;
    char *msgs;

    (void)state;
    assert_int_equal(build("name='x'\nroot='/dev/xvda1'\nextra='quiet'\n",
                           &dc, &msgs), 0);
    assert_string_equal(dc.cmdline, "root=/dev/xvda1 quiet");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\nroot='/dev/xvda1'\ncmdline='c'\n",
                           &dc, &msgs), 0);
    assert_string_equal(dc.cmdline, "c");
    assert_string_equal(msgs, "Warning: ignoring root= and extra= in favour "
                        "of cmdline=\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\nextra='quiet'\n", &dc, &msgs), 0);
    assert_string_equal(dc.cmdline, "quiet");
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_cpus(void **state)
{
    struct domain_config dc;
    char *msgs, buf[64];

    (void)state;
    assert_int_equal(build("name='x'\nvcpus=3\ncpus='0-3,5,^1'\n", &dc,
                           &msgs), 0);
    assert_int_equal(dc.num_vcpu_hard_affinity, 3);
    for (int i = 0; i < 3; i++) {
        xcpumap_format(&dc.vcpu_hard_affinity[i], buf, sizeof(buf));
        assert_string_equal(buf, "0,2-3,5");
    }
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\nvcpus=2\ncpus=['2', '4-5', '7']\n",
                           &dc, &msgs), 0);
    assert_int_equal(dc.num_vcpu_hard_affinity, 2);  /* extra one ignored */
    xcpumap_format(&dc.vcpu_hard_affinity[0], buf, sizeof(buf));
    assert_string_equal(buf, "2");
    xcpumap_format(&dc.vcpu_hard_affinity[1], buf, sizeof(buf));
    assert_string_equal(buf, "4-5");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\ncpus_soft='all'\n", &dc, &msgs), 0);
    assert_true(xcpumap_is_full(&dc.vcpu_soft_affinity[0]));
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\ncpus='^all'\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "Can't combine \"^\" and \"all\".\n");
    domain_config_dispose(&dc);
    free(msgs);

    assert_int_equal(build("name='x'\ncpus='3-1'\n", &dc, &msgs), -1);
    assert_string_equal(msgs, "Invalid pcpu range: 3-1.\n");
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_devices(void **state)
{
    struct domain_config dc;
    char *msgs;

    (void)state;
    assert_int_equal(build("name='x'\n"
                           "disk=['phy:/dev/vg/x,xvda,w', "
                           "'vdev=hdc,devtype=cdrom,target=/iso']\n"
                           "vif=['', 'mac=00:16:3e:aa:bb:cc,bridge=br1,"
                           "rate=10Mb/s@20ms,bogus=1', 'devid=7']\n",
                           &dc, &msgs), 0);
    /* Parsed in full; disk and vif are acted on (vbd.c, vif.c), so only
     * the bad vif item is named. */
    assert_string_equal(msgs, "unrecognized argument `bogus=1'\n");
    assert_int_equal(dc.num_disks, 2);
    assert_string_equal(dc.disks[0].pdev_path, "/dev/vg/x");
    assert_string_equal(dc.disks[0].vdev, "xvda");
    assert_int_equal(dc.disks[0].readwrite, 1);
    assert_int_equal(xdisk_vdev_number(dc.disks[0].vdev), 51712);
    assert_int_equal(dc.disks[1].is_cdrom, 1);
    assert_int_equal(dc.disks[1].readwrite, 0);
    assert_int_equal(dc.num_nics, 3);
    assert_string_equal(dc.nics[0].bridge, "xenbr0");
    assert_string_equal(dc.nics[0].script, "vif-bridge");
    assert_int_equal(dc.nics[0].devid, 0);
    assert_string_equal(dc.nics[1].bridge, "br1");
    assert_true(dc.nics[1].mac_set);
    assert_int_equal(dc.nics[1].mac[5], 0xcc);
    assert_int_equal(dc.nics[1].rate_interval_usecs, 20000);
    assert_int_equal(dc.nics[1].rate_bytes_per_interval, 25000);
    assert_int_equal(dc.nics[2].devid, 7);
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_vif_spec(void **state)
{
    struct xvif v;
    char *msgs;
    size_t sz;
    FILE *m;
    int warnings = 0;

    (void)state;
    m = open_memstream(&msgs, &sz);
    xvif_init(&v);
    assert_int_equal(xvif_parse(m, "n.cfg", "  ip=10.0.0.1,,model=e1000,"
                                "type=ioemu,vifname=tap7,backend=dd,"
                                "gatewaydev=eth1,mtu=9000,vlan=12,untrusted,"
                                "script=vif-route,frob", &v, false,
                                &warnings), 0);
    fclose(m);
    assert_string_equal(msgs, "unrecognized argument `frob'\n");
    assert_int_equal(warnings, 1);
    assert_string_equal(v.ip, "10.0.0.1");
    assert_string_equal(v.model, "e1000");
    assert_int_equal(v.type, XVIF_TYPE_VIF_IOEMU);
    assert_string_equal(v.ifname, "tap7");
    assert_string_equal(v.backend_domname, "dd");
    assert_string_equal(v.gatewaydev, "eth1");
    assert_int_equal(v.mtu, 9000);
    assert_int_equal(v.vlan, 12);
    assert_int_equal(v.trusted, 0);
    assert_string_equal(v.script, "vif-route");
    assert_string_equal(v.bridge, "xenbr0");
    assert_int_equal(v.rate_interval_usecs, 0);
    xvif_dispose(&v);
    free(msgs);

    /* network-attach: an unknown key is fatal */
    xvif_init(&v);
    assert_int_equal(xvif_parse(NULL, "n", "bridge=b,frob", &v, true, NULL),
                     EINVAL);
    xvif_dispose(&v);

    /* numbers and rates are always fatal */
    m = open_memstream(&msgs, &sz);
    xvif_init(&v);
    assert_int_equal(xvif_parse(m, "n.cfg", "mtu=big", &v, false, NULL),
                     EINVAL);
    assert_int_equal(xvif_parse(m, "n.cfg", "rate=1GB/s@0s", &v, false,
                                NULL), EOVERFLOW);
    assert_int_equal(xvif_parse(m, "n.cfg", "mac=00:16", &v, false, NULL), 0);
    fclose(m);
    assert_string_equal(msgs,
        "xl: failed to convert \"big\" to number\n"
        "n.cfg: config parsing error in vif: replenishment interval overflow "
        "in `0s'\n"
        "Invalid parameter `mac'.\n");
    xvif_dispose(&v);
    free(msgs);
}

static void test_vdev_numbers(void **state)
{
    (void)state;
    assert_int_equal(xdisk_vdev_number("xvda"), 51712);
    assert_int_equal(xdisk_vdev_number("xvdb"), 51712 + 16);
    assert_int_equal(xdisk_vdev_number("xvda1"), 51713);
    assert_int_equal(xdisk_vdev_number("xvdp"), 51712 + 16 * 15);
    assert_int_equal(xdisk_vdev_number("xvdq"), (1 << 28) | (16 << 8));
    assert_int_equal(xdisk_vdev_number("xvdaa"), (1 << 28) | (26 << 8));
    assert_int_equal(xdisk_vdev_number("hda"), 3 << 8);
    assert_int_equal(xdisk_vdev_number("hdb"), (3 << 8) | 64);
    assert_int_equal(xdisk_vdev_number("hdc"), 22 << 8);
    assert_int_equal(xdisk_vdev_number("sda"), 8 << 8);
    assert_int_equal(xdisk_vdev_number("sdb2"), (8 << 8) | 18);
    assert_int_equal(xdisk_vdev_number("d0p1"), 51713);
    assert_int_equal(xdisk_vdev_number("51712"), 51712);
    assert_int_equal(xdisk_vdev_number("xvda01"), -1);
    assert_int_equal(xdisk_vdev_number("hde"), -1);
    assert_int_equal(xdisk_vdev_number("xvd"), -1);
    assert_int_equal(xdisk_vdev_number("vda"), -1);
}

static void test_unsupported_and_overrides(void **state)
{
    struct domain_config dc;
    const char *ov[] = { "memory=64", "name=\"over\"" };
    /* usb, viridian: xl knows them, Xenon does not act on them; memroy: a
     * typo xl ignores silently; on_reboot: an action Xenon lacks. */
    const char *text = "name='x'\nmemory=8\nusb=1\nviridian=1\nusb=0\n"
                       "memroy=9\non_reboot='rename-restart'";
    char *msgs;
    size_t sz;
    FILE *m;

    (void)state;
    m = open_memstream(&msgs, &sz);
    domain_config_init(&dc);
    assert_int_equal(domain_config_parse("t.cfg", text, strlen(text), ov, 2,
                                         m, &dc), 0);
    fclose(m);
    assert_string_equal(dc.name, "over");
    assert_int_equal(dc.target_memkb, 64 * 1024);
    assert_int_equal(dc.num_unsupported, 2);
    assert_string_equal(dc.unsupported[0], "usb");
    assert_string_equal(dc.unsupported[1], "viridian");
    assert_string_equal(msgs,
        "t.cfg:3: warning: `usb' is not implemented in Xenon yet and is ignored\n"
        "t.cfg:4: warning: `viridian' is not implemented in Xenon yet and is "
        "ignored\n"
        "t.cfg:7: warning: `on_reboot=\"rename-restart\"' is not implemented in "
        "Xenon yet: the domain is destroyed instead\n");
    domain_config_dispose(&dc);
    free(msgs);
}

static void test_append_overrides(void **state)
{
    const char *ov[] = { "a=1", "b='x'" };
    size_t len;
    char *s;

    (void)state;
    s = xcfg_append_overrides("x=0", 3, ov, 2, &len);
    assert_string_equal(s, "x=0\na=1\nb='x'\n\n");
    assert_int_equal(len, strlen(s));
    free(s);
    s = xcfg_append_overrides("x=0", 3, NULL, 0, &len);
    assert_string_equal(s, "x=0");
    free(s);
}

static void test_json(void **state)
{
    struct domain_config dc;
    char *msgs, *json;

    (void)state;
    assert_int_equal(build("name='j\"q'\ntype='pvh'\nmemory=16\n"
                           "uuid='00112233-4455-6677-8899-aabbccddeeff'\n"
                           "disk=['/x,raw,xvda']\nvif=['mac=00:16:3e:0:0:1']\n",
                           &dc, &msgs), 0);
    json = domain_config_to_json(&dc);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"name\": \"j\\\"q\""));
    assert_non_null(strstr(json, "\"type\": \"pvh\""));
    assert_non_null(strstr(json,
                           "\"uuid\": \"00112233-4455-6677-8899-aabbccddeeff\""));
    assert_non_null(strstr(json, "\"target_memkb\": 16384"));
    assert_non_null(strstr(json, "\"pdev_path\": \"/x\""));
    assert_non_null(strstr(json, "\"mac\": \"00:16:3e:00:00:01\""));
    assert_non_null(strstr(json, "\"on_reboot\": \"restart\""));
    free(json);
    domain_config_dispose(&dc);
    free(msgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_memory_vcpus),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_types_and_actions),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_cpus),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_vif_spec),
        cmocka_unit_test(test_vdev_numbers),
        cmocka_unit_test(test_unsupported_and_overrides),
        cmocka_unit_test(test_append_overrides),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
