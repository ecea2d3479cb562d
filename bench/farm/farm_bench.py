#!/usr/bin/env python3
"""The honeyfarm's figures, inside a network namespace of the bench's own
(nothing leaves it): first packet to an unused address -> its reply, the
same for an address whose clone runs, memory per live clone, and the
gateway's forwarding rate under a bounded flood (hping3, 2 s).

    python3 bench/farm/farm_bench.py [--build build] [--addresses 200]

Needs root, /dev/kvm, iproute2, ping and hping3 (scripts/setup.sh).
Anchors printed beside the figures: Potemkin (SOSP '05) 521 ms from the
first ping to the clone's reply; Cowrie's libvirt back end ~17 s to boot a VM.
"""
import argparse, json, os, re, shutil, sys, tempfile, time

from farm_common import Netns, clone_memory_kib, farm_config, make_snapshot, percentile, private_build, start_farm, \
    stop_farm, stopped_counters


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--addresses", type=int, default=200)
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    if os.geteuid() != 0 or not shutil.which("ping") or not shutil.which("hping3"):
        sys.exit("farm_bench: needs root, ping and hping3 (scripts/setup.sh)")
    work = tempfile.mkdtemp(prefix="farm-bench-")
    netns = "vmhfarmbench%d" % os.getpid()
    try:
        build = private_build(build, work)
        snapshot = make_snapshot(build, work)
        config = os.path.join(work, "farm.json")
        with open(config, "w") as f:
            json.dump(farm_config(snapshot, "farm0", "10.0.0.0/20", args.addresses + 50, 8, 600), f)
        with Netns(netns) as ns:
            farm = None
            try:
                farm = start_farm(ns, build, config)
                for command in ("ip link set farm0 up", "ip addr add 10.9.0.1/16 dev farm0",
                                "ip route add 10.0.0.0/20 dev farm0"):
                    ns.run(*command.split())
                measure(ns, farm, args)
            finally:
                stop_farm(farm)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(ns, farm, args):
    def rtt(address):
        out = ns.run("ping", "-n", "-c", "1", "-W", "5", address, check=False).stdout
        found = re.search(r"time=([0-9.]+) ms", out)
        return float(found.group(1)) if found else None

    first, again, lost = [], [], 0
    for i in range(args.addresses):
        address = "10.0.%d.%d" % (1 + i // 250, 1 + i % 250)
        value = rtt(address)
        if value is None:
            lost += 1
            continue
        first.append(value)
        second = rtt(address)
        if second is not None:
            again.append(second)
    pss, clones = clone_memory_kib(farm.pid)
    print(f"farm_bench: {args.addresses} unused addresses pinged once each, then again (ping's own rtt)")
    print(f"first packet -> reply: p50 {percentile(first, 50):.2f} ms  p99 {percentile(first, 99):.2f} ms  "
          f"max {max(first):.2f} ms  ({lost} lost)  (targets p50 < 5 ms, p99 < 20 ms; Potemkin 521 ms: "
          f"{521 / percentile(first, 50):.0f}x faster at p50)")
    print(f"same address, clone running: p50 {percentile(again, 50):.2f} ms  p99 {percentile(again, 99):.2f} ms")
    print(f"memory: {clones} clone processes, PSS {pss / 1024:.1f} MiB in all, {pss / max(clones, 1) / 1024:.2f} MiB "
          f"each (target < 1.5 MiB; Potemkin ~0.85 MB)")
    # A bounded flood at one bound address: ICMP echo requests for 2 s, answered by its clone.
    before = time.monotonic()
    ns.run("timeout", "2", "hping3", "--flood", "--icmp", "-q", "10.0.1.1", check=False)
    elapsed = time.monotonic() - before
    counters = stopped_counters(stop_farm(farm, timeout_s=60).splitlines())
    forwarded = counters.get("forwarded_in", 0) + counters.get("forwarded_out", 0)
    print(f"flood: hping3 --flood --icmp for {elapsed:.1f} s; gateway totals: {counters.get('outside_frames', 0)} frames "
          f"in from outside, {counters.get('forwarded_in', 0)} to clones, {counters.get('forwarded_out', 0)} back out, "
          f"{counters.get('send_failures', 0)} send failures (a clone's link full)")
    print(f"forwarding: about {forwarded / elapsed:,.0f} frames/s through the gateway, both directions together "
          f"(target 500,000/s of 64-byte frames)")


if __name__ == "__main__":
    main()
