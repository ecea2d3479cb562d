#!/usr/bin/env python3
"""Linux clones in the farm: the stock Debian guest booted once (virtio-net on
a socket pair: no tap) with its network and services set up by /init
(vmhive.ip=, vmhive.services=ssh,http,telnet, a test key for root), then
snapshotted at its idle shell; `vmhive farm` serves a range with clones of that
snapshot, and the bench pings unused addresses once each (first packet ->
reply for Linux clones, beside the low-interaction responder's:
bench/farm/farm_bench.py), then logs in over SSH and fetches the web page.

    python3 bench/farm/linux_profile.py [--build build] [--addresses 10] [--keep DIR]

Needs root, /dev/kvm, iproute2, ping and the prepared Linux guest
(scripts/prepare-linux-guest.sh). The boot takes minutes on a KVM-PVM host.
Everything runs in a network namespace of the bench's own, removed at the end.
"""
import argparse, json, os, re, select, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from farm_common import Netns, percentile, sh, start_farm, stop_farm, farm_children, read_pss_kib

GUEST_ADDRESS = "10.0.0.2"
GUEST_MAC = "02:00:00:00:00:bb"
CMDLINE = ("console=ttyS0 panic=-1 reboot=k mitigations=off init_on_alloc=0 nokaslr audit=0 "
           "vmhive.modules=virtio_pci,virtio_net vmhive.ip=%s/16 vmhive.services=ssh,http,telnet" % GUEST_ADDRESS)
PROMPT = "vmhive:/# "
SSH_OPTIONS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
               "-o", "ConnectTimeout=120", "-o", "LogLevel=ERROR"]


def read_until(vm, marker, timeout_s, seen):
    """Console output until `marker` (appended to `seen`); False on timeout or exit."""
    deadline = time.monotonic() + timeout_s
    while marker not in seen[0]:
        left = deadline - time.monotonic()
        if left <= 0 or vm.poll() is not None:
            return False
        ready, _, _ = select.select([vm.stdout], [], [], min(left, 5))
        if ready:
            chunk = os.read(vm.stdout.fileno(), 65536).decode(errors="replace")
            if not chunk:
                return False
            seen[0] += chunk
    return True


def make_key(work):
    """A test key pair for root (the private key file, the public key as vmhive.ssh_key= wants it)."""
    key = os.path.join(work, "id_ed25519")
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
    kind, blob = open(key + ".pub").read().split()[:2]
    return key, "%s:%s" % (kind, blob)


def make_linux_snapshot(build, work, boot_timeout_s, ssh_key):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    control = os.path.join(work, "linux.sock")
    guest = os.path.join(build, "linux-guest")
    vm = subprocess.Popen([os.path.join(build, "vmhive"), "run", "--kernel", os.path.join(guest, "vmlinux"),
                           "--initrd", os.path.join(guest, "initramfs.cpio"), "--mem", "256M", "--cpus", "1",
                           "--net", "fd=%d,mac=%s" % (b.fileno(), GUEST_MAC), "--control", control,
                           "--cmdline", CMDLINE + " vmhive.ssh_key=" + ssh_key],
                          pass_fds=[b.fileno()], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    b.close()
    seen = [""]
    started = time.monotonic()
    try:
        if not read_until(vm, "VMHIVE-READY", boot_timeout_s, seen):
            sys.exit("linux_profile: the guest did not reach its shell:\n" + seen[0][-3000:])
        ready_s = time.monotonic() - started
        # The snapshot is taken at the idle shell, not while the guest still works: every clone
        # would redo what was left (seconds of emulated ring 0 on KVM-PVM) before it answers.
        if not read_until(vm, PROMPT, 600, seen) or "vmhive: serving ssh,http,telnet" not in seen[0]:
            sys.exit("linux_profile: no shell with its services:\n" + seen[0][-3000:])
        configured_s = time.monotonic() - started
        snapshot = os.path.join(work, "linux-snapshot")
        sh(os.path.join(build, "vmhive"), "snapshot", "--control", control, "--stop", snapshot)
        vm.wait(timeout=120)
        return snapshot, ready_s, configured_s
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
        a.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--addresses", type=int, default=10)
    parser.add_argument("--boot-timeout", type=int, default=3600)
    parser.add_argument("--keep", help="keep the snapshot and the farm's events in this directory")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="vmhive-linux-farm-")
    try:
        key, public_key = make_key(work)
        snapshot, ready_s, configured_s = make_linux_snapshot(build, work, args.boot_timeout, public_key)
        print("linux_profile: ready after %.0f s, at its shell after %.0f s, snapshot %s" %
              (ready_s, configured_s, snapshot), flush=True)
        config = {"outside_tap": "farm0", "range": "10.0.0.0/20", "budget": 64,
                  "profiles": [{"name": "linux", "snapshot": snapshot, "address": GUEST_ADDRESS, "mac": GUEST_MAC,
                                "ports": [22, 23, 80], "ready": 2, "idle_timeout_s": 600}]}
        config_path = os.path.join(work, "farm.json")
        with open(config_path, "w") as out:
            json.dump(config, out)
        with Netns("vmhlinuxfarm%d" % os.getpid()) as ns:
            farm = start_farm(ns, build, config_path, timeout_s=600)
            try:
                ns.run("ip", "link", "set", "farm0", "up")
                ns.run("ip", "addr", "add", "10.9.0.1/16", "dev", "farm0")
                ns.run("ip", "route", "add", "10.0.0.0/20", "dev", "farm0")
                first, again = [], []
                for n in range(args.addresses):
                    address = "10.0.0.%d" % (10 + n)
                    for times in (first, again):
                        result = ns.run("ping", "-c", "1", "-W", "30", address, check=False)
                        match = re.search(r"time=([0-9.]+) ms", result.stdout)
                        times.append(float(match.group(1)) if match else None)
                    print("  %s: first packet -> reply %s ms, again %s ms" % (address, first[-1], again[-1]), flush=True)
                address = "10.0.0.%d" % (10 + args.addresses)
                started = time.monotonic()
                login = ns.run("ssh", "-i", key, *SSH_OPTIONS, "root@" + address, "uname -r; echo SSH-$((6*7))",
                               check=False)
                ssh_s = time.monotonic() - started
                print("  ssh root@%s: %s in %.1f s %s" % (address, "logged in" if "SSH-42" in login.stdout else "FAILED",
                                                          ssh_s, (login.stdout + login.stderr).strip()), flush=True)
                started = time.monotonic()
                page = ns.run("curl", "-s", "-m", "120", "http://%s/" % address, check=False)
                print("  http://%s/: %s in %.1f s" % (address, "page" if "It works!" in page.stdout else "FAILED",
                                                     time.monotonic() - started), flush=True)
                clones = farm_children(farm.pid)
                pss = [read_pss_kib(pid) for pid in clones]
                pss = [p for p in pss if p]
            finally:
                lines = stop_farm(farm)
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                with open(os.path.join(args.keep, "farm-events.jsonl"), "w") as out:
                    out.write(lines)
        answered = [t for t in first if t is not None]
        print("linux_profile (%s): %d addresses, %d answered" % (time.strftime("%Y-%m-%d %H:%M"), len(first), len(answered)))
        if answered:
            print("first packet -> reply (Linux clone): p50 %.1f ms, max %.1f ms  (responder: p50 ~5 ms; Potemkin 521 ms)" %
                  (percentile(answered, 50), max(answered)))
        repeat = [t for t in again if t is not None]
        if repeat:
            print("the same address again (clone running): p50 %.1f ms" % percentile(repeat, 50))
        if pss:
            print("PSS per clone process: %.2f MiB (%d processes)" % (sum(pss) / len(pss) / 1024, len(pss)))
    finally:
        if args.keep and os.path.isdir(work):
            shutil.copytree(work, os.path.join(args.keep, "work"), dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.sock"))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
