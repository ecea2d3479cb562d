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
import argparse, json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def make_snapshot(build, work):
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    control = os.path.join(work, "r.sock")
    vm = subprocess.Popen([os.path.join(build, "vmhive"), "run", "--kernel", os.path.join(build, "guests", "responder.elf"),
                           "--mem", "16M", "--net", "fd=%d,mac=02:00:00:00:00:aa" % b.fileno(), "--control", control,
                           "--cmdline", "ip=10.0.0.2 ports=22,80"], pass_fds=[b.fileno()], stdout=subprocess.PIPE)
    b.close()
    if b"ready" not in vm.stdout.readline():
        sys.exit("farm_bench: the responder did not start")
    snapshot = os.path.join(work, "snapshot")
    sh(os.path.join(build, "vmhive"), "snapshot", "--control", control, "--stop", snapshot)
    vm.wait()
    a.close()
    return snapshot


def clone_memory_kib(farm_pid):
    """Proportional set size of every clone process (children of the farm), in KiB."""
    total, count = 0, 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) != farm_pid:
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        count += 1
        except (OSError, ValueError, IndexError):
            continue
    return total, count


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
    snapshot = make_snapshot(build, work)
    config = os.path.join(work, "farm.json")
    with open(config, "w") as f:
        json.dump({"outside_tap": "farm0", "range": "10.0.0.0/20", "budget": args.addresses + 50,
                   "profiles": [{"name": "responder", "snapshot": snapshot, "address": "10.0.0.2",
                                 "mac": "02:00:00:00:00:aa", "ports": [22, 80], "ready": 8, "idle_timeout_s": 600}]}, f)
    sh("ip", "netns", "add", netns)
    farm = None
    try:
        ns = ["ip", "netns", "exec", netns]
        sh(*ns, "ip", "link", "set", "lo", "up")
        farm = subprocess.Popen(ns + [os.path.join(build, "vmhive"), "farm", config], stdout=subprocess.PIPE, text=True)
        if '"ready"' not in farm.stdout.readline():
            sys.exit("farm_bench: the farm did not start")
        for command in ("ip link set farm0 up", "ip addr add 10.9.0.1/16 dev farm0", "ip route add 10.0.0.0/20 dev farm0"):
            sh(*ns, *command.split())

        def rtt(address):
            out = sh(*ns, "ping", "-n", "-c", "1", "-W", "5", address, check=False).stdout
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
        sh(*ns, "timeout", "2", "hping3", "--flood", "--icmp", "-q", "10.0.1.1", check=False)
        elapsed = time.monotonic() - before
        farm.send_signal(signal.SIGTERM)
        out, _ = farm.communicate(timeout=60)
        stopped = [json.loads(line) for line in out.splitlines() if '"stopped"' in line]
        counters = stopped[-1]["counters"] if stopped else {}
        forwarded = counters.get("forwarded_in", 0) + counters.get("forwarded_out", 0)
        print(f"flood: hping3 --flood --icmp for {elapsed:.1f} s; gateway totals: {counters.get('outside_frames', 0)} frames "
              f"in from outside, {counters.get('forwarded_in', 0)} to clones, {counters.get('forwarded_out', 0)} back out, "
              f"{counters.get('send_failures', 0)} send failures (a clone's link full)")
        print(f"forwarding: about {forwarded / elapsed:,.0f} frames/s through the gateway, both directions together "
              f"(target 500,000/s of 64-byte frames)")
        farm = None
    finally:
        if farm is not None:
            farm.kill()
        subprocess.run(["ip", "netns", "del", netns], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
