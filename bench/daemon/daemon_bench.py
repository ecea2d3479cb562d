#!/usr/bin/env python3
"""vmhived's control-plane costs, measured against its targets.

    bench/daemon/daemon_bench.py [--vms 100] [--metrics-vms 1000] [--inspects 2000] [--starts 30] [--build build]

1. API `inspect` latency (GET /vms/NAME, p50/p99 over --inspects requests on
   fresh connections) with --vms VMs: running `idle` test guests where
   /dev/kvm is usable, otherwise VMs that exist but do not run (said so).
2. `GET /metrics` time with --metrics-vms VMs (running where KVM allows, as
   many as fit; created otherwise).
3. The daemon's resident memory (VmRSS) managing those VMs.
4. Where KVM is usable: create+start through the API to the `hello` guest's
   first serial line, against `vmhive run` of the same guest, side by side
   (--starts each, alternating), and the difference of the medians.
5. Where KVM is usable: a clone of an `idle` snapshot through the API to its
   first answer on the console (request -> clone -> "p" -> "idle: alive"),
   from a ready pool (PUT /pools) against a restore made when asked
   (no pool), and against `vmhive restore` of the same snapshot run by hand,
   side by side (--clones each, alternating).
Everything runs in a temporary state directory with its own socket.
"""
import argparse, http.client, json, os, socket, statistics, subprocess, sys, tempfile, time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def call(sock, method, target, body=None):
    connection = UnixConnection(sock)
    connection.request(method, target, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_phase(sock, name, phase, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, data = call(sock, "GET", f"/vms/{name}")
        if status == 200 and json.loads(data)["phase"] == phase:
            return
        time.sleep(0.002)
    raise RuntimeError(f"{name} did not become {phase}")


def wait_console(path, text, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as file:
                if text in file.read():
                    return time.monotonic()
        except FileNotFoundError:
            pass
        time.sleep(0.0002)
    raise RuntimeError(f"no {text!r} in {path}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vms", type=int, default=100)
    parser.add_argument("--metrics-vms", type=int, default=1000)
    parser.add_argument("--inspects", type=int, default=2000)
    parser.add_argument("--starts", type=int, default=30)
    parser.add_argument("--clones", type=int, default=30)
    parser.add_argument("--build", default="build")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    guests = os.path.join(build, "guests")
    kvm = kvm_usable()
    work = tempfile.mkdtemp(prefix="vmhived-bench-")
    sock = os.path.join(work, "api.sock")
    daemon = subprocess.Popen([os.path.join(build, "vmhived"), "--socket", sock, "--state-dir", os.path.join(work, "state"),
                               "--stop-timeout-ms", "1000"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(2000):
            try:
                call(sock, "GET", "/")
                break
            except OSError:
                time.sleep(0.005)
        mode = "running idle guests" if kvm else "created, not running (no usable /dev/kvm here)"
        guest = "idle" if kvm else "hello"
        print(f"daemon_bench: VMs are {mode}")
        base_rss = rss_kib(daemon.pid)

        def make(count, start):
            for i in range(count):
                name = f"vm-{i}"
                body = json.dumps({"name": name, "kernel": os.path.join(guests, f"{guest}.elf"), "memory": "16M"})
                status, data = call(sock, "POST", "/vms", body)
                if status not in (201, 409):
                    raise RuntimeError(data)
                if start and status == 201:
                    call(sock, "POST", f"/vms/{name}/start")

        def console_of(name):
            return os.path.join(work, "state", "vms", name, "console.log")

        make(args.vms, kvm)
        if kvm:  # booted: their first line written, then they sleep
            for i in range(args.vms):
                wait_console(console_of(f"vm-{i}"), b"idle: ready")
        latencies = []
        for i in range(args.inspects):
            begin = time.perf_counter()
            status, _ = call(sock, "GET", f"/vms/vm-{i % args.vms}")
            latencies.append((time.perf_counter() - begin) * 1000)
            assert status == 200
        print(f"inspect with {args.vms} VMs: p50 {percentile(latencies, 50):.3f} ms  p99 {percentile(latencies, 99):.3f} ms"
              f"  (target p99 < 1 ms; client is Python http.client, a connection per request)")
        make(args.metrics_vms, kvm)
        if kvm:
            for i in range(args.metrics_vms):
                wait_console(console_of(f"vm-{i}"), b"idle: ready", timeout=120.0)
        times = []
        for _ in range(20):
            begin = time.perf_counter()
            status, data = call(sock, "GET", "/metrics")
            times.append((time.perf_counter() - begin) * 1000)
        print(f"/metrics with {args.metrics_vms} VMs: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms,"
              f" {len(data)} bytes (target < 50 ms)")
        print(f"daemon resident memory: {rss_kib(daemon.pid) / 1024:.1f} MiB with {args.metrics_vms} VMs"
              f" ({base_rss / 1024:.1f} MiB with none; target < 10 MiB with 1,000 idle VMs)")
        if not kvm:
            print("create+start vs vmhive run: skipped (needs /dev/kvm)")
            return
        hello = os.path.join(guests, "hello.elf")
        api_ms, run_ms, cgroup_ms = [], [], []
        for i in range(args.starts):
            name = f"start-{i}"
            begin = time.monotonic()
            call(sock, "POST", "/vms", json.dumps({"name": name, "kernel": hello, "memory": "16M"}))
            call(sock, "POST", f"/vms/{name}/start")
            seen = wait_console(os.path.join(work, "state", "vms", name, "console.log"), b"hello from vmhive")
            api_ms.append((seen - begin) * 1000)
            # The daemon's VM runs in a cgroup of its own (`run --own-cgroup`); plain `run` does not.
            for extra, times in (([], run_ms), (["--own-cgroup"], cgroup_ms)):
                console = os.path.join(work, f"run-{i}-{len(extra)}.log")
                begin = time.monotonic()
                run = subprocess.Popen([os.path.join(build, "vmhive"), "run", "--kernel", hello, "--mem", "16M",
                                        "--console", console] + extra, stdin=subprocess.DEVNULL)
                seen = wait_console(console, b"hello from vmhive")
                times.append((seen - begin) * 1000)
                run.wait()
        a, r, c = statistics.median(api_ms), statistics.median(run_ms), statistics.median(cgroup_ms)
        print(f"first serial line: API create+start median {a:.2f} ms; vmhive run median {r:.2f} ms"
              f" (difference {a - r:+.2f} ms); vmhive run --own-cgroup median {c:.2f} ms (difference {a - c:+.2f} ms)"
              f" (target <= 5 ms)")
        clone_bench(sock, work, build, guests, args.clones)
    finally:
        daemon.terminate()
        daemon.wait()
        killed = []
        for pid_dir in [os.path.join(work, "state", "vms", d) for d in os.listdir(os.path.join(work, "state", "vms"))]:
            try:
                record = json.load(open(os.path.join(pid_dir, "vm.json")))
                if record.get("pid"):
                    os.kill(record["pid"], 9)
                    killed.append(record["pid"])
            except (OSError, ValueError):
                pass
        # A killed VM cannot remove its own cgroup (the next VM placed would sweep it).
        groups = "/sys/fs/cgroup/cpu/vmhive"
        for pid in killed:
            for _ in range(200):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.005)
        if os.path.isdir(groups):
            ends = tuple(f"-{pid}" for pid in killed)
            for name in os.listdir(groups):
                if name.endswith(ends):
                    try:
                        os.rmdir(os.path.join(groups, name))
                    except OSError:
                        pass
        subprocess.run(["rm", "-rf", work])


def clone_bench(sock, work, build, guests, count):
    """Clone to first answer: from a ready pool, restored when asked, and by hand."""
    status, data = call(sock, "POST", "/vms", json.dumps({"name": "origin", "kernel": os.path.join(guests, "idle.elf"),
                                                          "memory": "16M"}))
    assert status == 201, data
    call(sock, "POST", "/vms/origin/start")
    wait_console(os.path.join(work, "state", "vms", "origin", "console.log"), b"idle: ready")
    snapshot = os.path.join(work, "snap")
    status, data = call(sock, "POST", "/vms/origin/snapshot", json.dumps({"dir": snapshot, "resume": False}))
    assert status == 200, data

    def through_api(name):
        begin = time.monotonic()
        status, data = call(sock, "POST", "/snapshots/clone", json.dumps({"snapshot": snapshot, "count": 1,
                                                                         "name_prefix": name}))
        assert status == 201, data
        call(sock, "POST", f"/vms/{name}-0/console", "p")
        seen = wait_console(os.path.join(work, "state", "vms", f"{name}-0", "console.log"), b"idle: alive")
        call(sock, "POST", f"/vms/{name}-0/stop", json.dumps({"force": True}))
        return (seen - begin) * 1000

    def by_hand(i):
        console = os.path.join(work, f"restore-{i}.log")
        begin = time.monotonic()
        restore = subprocess.Popen([os.path.join(build, "vmhive"), "restore", snapshot, "--console", console],
                                   stdin=subprocess.PIPE)
        restore.stdin.write(b"p")
        restore.stdin.flush()
        seen = wait_console(console, b"idle: alive")
        restore.kill()
        restore.wait()
        return (seen - begin) * 1000

    cold, pooled, hand = [], [], []
    for i in range(count):
        cold.append(through_api(f"cold{i}"))
        hand.append(by_hand(i))
    status, data = call(sock, "PUT", "/pools/bench", json.dumps({"snapshot": snapshot, "size": 2}))
    assert status == 201, data
    for i in range(count):
        deadline = time.monotonic() + 30
        while json.loads(call(sock, "GET", "/pools/bench")[1]).get("ready", 0) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError("the pool never got a ready VM")
            time.sleep(0.001)
        pooled.append(through_api(f"pool{i}"))
    c, p, h = statistics.median(cold), statistics.median(pooled), statistics.median(hand)
    print(f"clone to first console answer: from a ready pool median {p:.2f} ms (p90 {percentile(pooled, 90):.2f}),"
          f" restored when asked {c:.2f} ms (p90 {percentile(cold, 90):.2f}), vmhive restore by hand {h:.2f} ms;"
          f" pool/cold {p / c:.2f}x, pool/by-hand {p / h:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
