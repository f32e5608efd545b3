#!/usr/bin/env python3
"""The message class as XAPI's: message.create (pool-operator and above;
priority 1-5, XAPI's cls names), the generic getters, message.get and
get_since by timestamp, message.destroy, event.from on class "message";
and, with /dev/kvm, VM.start_on (this host, or HANDLE_INVALID) and the VM_STARTED / VM_REBOOTED / VM_SHUTDOWN messages the
daemon writes when a VM's power state changes, whoever changed it."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xapienv  # noqa: E402

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def vm_messages(env, s, uuid):
    res, e = env.call("message.get", s, "VM", uuid, "19700101T00:00:00Z")
    return sorted(((m["timestamp"], m["name"]) for m in (res or {}).values()))


env = xapienv.Env()
try:
    s, _ = env.call("session.login_with_password", "root", "secret")
    ro, _ = env.call("session.login_with_password", "alice", "alicepw")
    op, _ = env.call("session.login_with_password", "bob", "bobpw")
    host = env.call("host.get_all", s)[0][0]
    huuid = env.call("host.get_uuid", s, host)[0]
    ev0, _ = env.call("event.from", s, ["message"], "", 0.0)

    ref, e = env.call("message.create", s, "TEST_ALERT", 3, "Host", huuid, "disk nearly full")
    check("message.create by pool-admin", ref and ref.startswith("OpaqueRef:"), e)
    rec, e = env.call("message.get_record", s, ref)
    check("the record: name, priority, cls, obj_uuid, body, uuid, timestamp",
          rec and rec["name"] == "TEST_ALERT" and rec["priority"] == 3 and rec["cls"] == "Host"
          and rec["obj_uuid"] == huuid and rec["body"] == "disk nearly full" and
          len(rec["uuid"]) == 36 and len(rec["timestamp"]) == 18, rec or e)
    check("get_by_uuid", rec and env.call("message.get_by_uuid", s, rec["uuid"])[0] == ref)
    check("get_all lists it", ref in (env.call("message.get_all", s)[0] or []))
    check("get_priority (generic getter)", env.call("message.get_priority", s, ref)[0] == 3)
    res, _ = env.call("event.from", s, ["message"], ev0["token"], 5.0)
    check("event.from: an add event for it", any(
        x["operation"] == "add" and x["ref"] == ref for x in (res or {}).get("events", [])))

    for who, sess in (("read-only", ro), ("vm-operator", op)):
        _, e = env.call("message.create", sess, "X", 5, "Host", huuid, "")
        check(f"message.create by {who}: RBAC_PERMISSION_DENIED",
              e and e[0] == "RBAC_PERMISSION_DENIED", e)
    check("message.get_all_records by read-only", ref in (env.call(
        "message.get_all_records", ro)[0] or {}))
    for bad, args in (("priority 0", ("X", 0, "Host", huuid, "")),
                      ("priority 6", ("X", 6, "Host", huuid, "")),
                      ("cls Bogus", ("X", 5, "Bogus", huuid, "")),
                      ("empty name", ("", 5, "Host", huuid, ""))):
        _, e = env.call("message.create", s, *args)
        check(f"message.create with {bad}: INVALID_VALUE", e and e[0] == "INVALID_VALUE", e)
    _, e = env.call("message.create", s, "X", "five", "Host", huuid, "")
    check("message.create with a string priority: FIELD_TYPE_ERROR",
          e and e[0] == "FIELD_TYPE_ERROR", e)

    res, e = env.call("message.get_since", s, "19700101T00:00:00Z")
    check("get_since the epoch has it", res and ref in res, e)
    res, e = env.call("message.get_since", s, "20991231T00:00:00Z")
    check("get_since the future: nothing", res == {}, res or e)
    _, e = env.call("message.get_since", s, "yesterday")
    check("get_since a non-date: FIELD_TYPE_ERROR", e and e[0] == "FIELD_TYPE_ERROR", e)
    res, _ = env.call("message.get", s, "Host", huuid, "19700101T00:00:00Z")
    check("message.get of the host: it", res and list(res) == [ref], res)
    res, _ = env.call("message.get", s, "VM", huuid, "19700101T00:00:00Z")
    check("message.get of another cls: nothing", res == {}, res)

    _, e = env.call("message.destroy", op, ref)
    check("message.destroy by vm-operator: RBAC_PERMISSION_DENIED",
          e and e[0] == "RBAC_PERMISSION_DENIED", e)
    _, e = env.call("message.destroy", s, ref)
    check("message.destroy", e is None, e)
    _, e = env.call("message.get_record", s, ref)
    check("a destroyed message: HANDLE_INVALID", e and e[0] == "HANDLE_INVALID", e)
    _, e = env.call("message.destroy", s, ref)
    check("destroy twice: HANDLE_INVALID", e and e[0] == "HANDLE_INVALID", e)

    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        env.define("msgvm", "guest-idle-64")
        xapienv.wait_for(lambda: env.call("VM.get_by_name_label", s, "msgvm")[0], 10)
        vm = env.call("VM.get_by_name_label", s, "msgvm")[0][0]
        uuid = env.call("VM.get_uuid", s, vm)[0]
        check("a halted VM, defined: no message", vm_messages(env, s, uuid) == [],
              vm_messages(env, s, uuid))
        _, e = env.call("VM.start_on", s, vm, "OpaqueRef:" + "0" * 36, False, False)
        check("VM.start_on another host: HANDLE_INVALID", e and e[:2] == ["HANDLE_INVALID", "host"], e)
        _, e = env.call("VM.start_on", s, vm, host, False, False)
        check("VM.start_on this host", e is None, e)
        check("it runs on this host", env.call("VM.get_resident_on", s, vm)[0] == host and
              env.call("VM.get_power_state", s, vm)[0] == "Running")
        xapienv.wait_for(lambda: [n for _, n in vm_messages(env, s, uuid)] == ["VM_STARTED"], 10)
        check("VM_STARTED after VM.start_on", [n for _, n in vm_messages(env, s, uuid)] ==
              ["VM_STARTED"], vm_messages(env, s, uuid))
        names = lambda: sorted(n for _, n in vm_messages(env, s, uuid))  # noqa: E731
        _, e = env.call("VM.hard_reboot", s, vm)
        check("VM.hard_reboot", e is None, e)
        xapienv.wait_for(lambda: "VM_REBOOTED" in names(), 10)
        check("VM.hard_reboot: VM_REBOOTED, not a shutdown and a start",
              names() == ["VM_REBOOTED", "VM_STARTED"], names())
        r = env.xl("destroy", "msgvm")
        check("xl destroy (outside the API)", r.returncode == 0, r.stderr)
        xapienv.wait_for(lambda: "VM_SHUTDOWN" in names(), 10)
        check("VM_SHUTDOWN after xl destroy", names() ==
              ["VM_REBOOTED", "VM_SHUTDOWN", "VM_STARTED"], names())
        msgs = env.call("message.get", s, "VM", uuid, "19700101T00:00:00Z")[0]
        check("the daemon's messages: priority 5, body naming the VM", msgs and all(
            m["priority"] == 5 and "msgvm" in m["body"] for m in msgs.values()), msgs)
    else:
        print("skipped part: /dev/kvm is missing (the VM power-state messages)")
    if not env.alive():
        check("xenon-xapi still serving", False)
finally:
    env.close()
print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
