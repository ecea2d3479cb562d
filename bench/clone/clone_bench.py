#!/usr/bin/env python3
"""Clone restore latency and per-clone memory, vmhive against QEMU, in one run.

    bench/clone/clone_bench.py [--clones 500] [--resident 100] [--pool 4] [--build build]

Both VMMs restore the same `counter` test guest (guests/counter.c) from a saved
state: vmhive from `vmhive snapshot`, QEMU from a migration stream of the same
guest (`migrate exec:cat>FILE`, restored with `-incoming "exec:cat FILE"`).
Latency is from the spawn of the VMM process to the guest's answer on its
serial port to a 'p' written at once (so: process start, VM and vCPU creation,
state loading, first page faults, and the guest polling its port), p50 and p99
over --clones sequential restores. vmhive also reports its own set-up time (to
the first KVM_RUN). Then the same through `vmhive clone-server --pool N`, which
keeps N clones restored ahead and lets one go per request: request to vCPUs
running (the server's figure), to the reply, and to the answer on the clone's
console (a file the bench polls every 0.2 ms), each request on a full pool;
and the rate of back-to-back requests once the pool is drained. Memory: --resident clones run at once; private (USS) and
proportional (PSS) memory per clone from /proc/PID/smaps_rollup.
Timings are noisy on this 2-core host: compare the ratios of one run.
"""
import argparse, json, os, select, shutil, socket, statistics, subprocess, sys, tempfile, time

def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

def wait_for(proc, text, timeout=30.0):
    """Reads proc.stdout until `text` appears; returns the time it did."""
    deadline, seen = time.monotonic() + timeout, b""
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
            if text in seen:
                return time.monotonic()
    raise RuntimeError(f"no {text!r} from {proc.args[0]}: {seen[-300:]!r}")

def smaps(pid):
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                values[parts[0][:-1]] = int(parts[1])
    return values["Pss"], values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)

def vmhive_snapshot(vmhive, guest, work):
    control, snap = f"{work}/vm.sock", f"{work}/vmhive-snap"
    vm = subprocess.Popen([vmhive, "run", "--kernel", guest, "--control", control],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    wait_for(vm, b"counter: ready")
    vm.stdin.write(b"m7x"); vm.stdin.flush()
    wait_for(vm, b"mark set to 7")
    reply = subprocess.run([vmhive, "snapshot", "--control", control, snap, "--stop"],
                           capture_output=True, text=True, check=True).stdout.strip()
    vm.wait(timeout=30)
    return snap, reply

def qemu_base(guest):
    return ["qemu-system-x86_64", "-accel", "kvm", "-M", "pc", "-m", "256", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-net", "none", "-nodefaults", "-kernel", guest]

def qemu_snapshot(guest, work):
    stream, monitor = f"{work}/qemu.stream", f"{work}/qemu.mon"
    vm = subprocess.Popen(qemu_base(guest) + ["-monitor", f"unix:{monitor},server,nowait"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wait_for(vm, b"counter: ready", 120)
    vm.stdin.write(b"m7x"); vm.stdin.flush()
    wait_for(vm, b"mark set to 7", 60)
    def hmp(command):
        s = socket.socket(socket.AF_UNIX); s.connect(monitor)
        s.sendall(command.encode() + b"\n"); time.sleep(0.2); s.close()
    hmp(f"migrate \"exec:cat > {stream}\"")
    for _ in range(300):
        time.sleep(0.1)
        if os.path.exists(stream) and os.path.getsize(stream) > 0:
            time.sleep(0.5)
            break
    vm.kill(); vm.wait()
    return stream

def restore_once(argv, answer=b"mark=7"):
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"p"); proc.stdin.flush()
        answered = wait_for(proc, answer)
    finally:
        proc.kill()  # never leave a VM behind, even when it did not answer
    _, errors = proc.communicate()
    return (answered - start) * 1000, errors.decode(errors="replace")

def latency(name, argv, count, answer=b"mark=7"):
    times, setups = [], []
    for _ in range(count):
        ms, errors = restore_once(argv, answer)
        times.append(ms)
        for word in errors.split(","):
            if "set-up" in word:
                setups.append(float(word.split()[-2]))
    line = f"{name:7s} restore→answer over {count}: p50 {percentile(times, 50):7.2f} ms  p99 {percentile(times, 99):7.2f} ms"
    if setups:
        line += f"  (VMM set-up to first KVM_RUN: p50 {percentile(setups, 50):.2f} ms, p99 {percentile(setups, 99):.2f} ms)"
    print(line, flush=True)
    return percentile(times, 50), percentile(times, 99)

def resident(name, argv, count, answer=b"mark=7"):
    procs = []
    start = time.monotonic()
    for _ in range(count):
        procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    for proc in procs:
        proc.stdin.write(b"p"); proc.stdin.flush()
    try:
        for proc in procs:
            wait_for(proc, answer, 120)
        elapsed = time.monotonic() - start
        pss, uss = zip(*(smaps(proc.pid) for proc in procs))
    finally:
        for proc in procs:
            proc.kill()
    for proc in procs:
        proc.wait()
    print(f"{name:7s} {count} resident clones all answered in {elapsed:.2f} s ({count / elapsed:.0f}/s); "
          f"per clone: PSS {statistics.mean(pss) / 1024:.2f} MiB, private (USS) {statistics.mean(uss) / 1024:.2f} MiB",
          flush=True)
    return statistics.mean(uss)

def server_request(path, request):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall((json.dumps(request) + "\n").encode())
    reply = s.makefile().readline()
    s.close()
    return json.loads(reply)

def file_has(path, text, deadline):
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if text in f.read():
                    return time.monotonic()
        except FileNotFoundError:
            pass
        time.sleep(0.0002)
    raise RuntimeError(f"no {text!r} in {path}")

def pooled(vmhive, snap, work, count, pool):
    """vmhive clone-server: clones restored ahead, one let go per request."""
    socket_path, consoles = f"{work}/server.sock", f"{work}/pool-consoles"
    server = subprocess.Popen([vmhive, "clone-server", snap, "--socket", socket_path, "--pool", str(pool),
                               "--console-dir", consoles], stderr=subprocess.DEVNULL)
    try:
        def wait_ready():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if server_request(socket_path, {"op": "status"})["ready"] == pool:
                        return
                except (OSError, KeyError, ValueError):
                    pass
                time.sleep(0.01)
            raise RuntimeError("the clone server's pool did not fill")
        running, replied, answered = [], [], []
        for _ in range(count):
            wait_ready()  # each request finds a full pool: the latency of a warm server
            start = time.monotonic()
            reply = server_request(socket_path, {"op": "clone", "input": "p"})
            replied.append((time.monotonic() - start) * 1000)
            if not reply.get("ok"):
                raise RuntimeError(f"clone-server: {reply}")
            running.append(reply["start_ms"])
            seen = file_has(f"{consoles}/clone-{reply['index']}.log", b"mark=7", start + 30)
            answered.append((seen - start) * 1000)
            os.kill(reply["pid"], 9)
        # Back to back with no pause: the pool drains, then clones come at the restore rate.
        burst = pool * 5
        wait_ready()
        start = time.monotonic()
        for _ in range(burst):
            reply = server_request(socket_path, {"op": "clone"})
            if reply.get("ok"):
                os.kill(reply["pid"], 9)
        rate = burst / (time.monotonic() - start)
    finally:
        server.terminate()
        server.wait()
    print(f"vmhive  clone-server (pool {pool}) over {count}: request→vCPUs running p50 {percentile(running, 50):.3f} ms "
          f"p99 {percentile(running, 99):.3f} ms; request→reply p50 {percentile(replied, 50):.3f} ms "
          f"p99 {percentile(replied, 99):.3f} ms; request→first serial output p50 {percentile(answered, 50):.3f} ms "
          f"p99 {percentile(answered, 99):.3f} ms; {burst} back-to-back requests: {rate:.0f} clones/s", flush=True)
    return percentile(answered, 50), percentile(answered, 99)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clones", type=int, default=500)
    parser.add_argument("--resident", type=int, default=100)
    parser.add_argument("--build", default="build")
    parser.add_argument("--pool", type=int, default=4, help="clones the clone server keeps ready")
    parser.add_argument("--qemu-clones", type=int, default=None, help="restores for QEMU (default: --clones)")
    args = parser.parse_args()
    vmhive, guest = f"{args.build}/vmhive", f"{args.build}/guests/counter.elf"
    work = tempfile.mkdtemp(prefix="vmhive-clone-bench-")
    try:
        snap, reply = vmhive_snapshot(vmhive, guest, work)
        print(f"vmhive snapshot: {reply}")
        v50, v99 = latency("vmhive", [vmhive, "restore", snap, "--report-timing"], args.clones)
        pooled(vmhive, snap, work, args.clones, args.pool)
        v_uss = resident("vmhive", [vmhive, "restore", snap], args.resident)
        if shutil.which("qemu-system-x86_64"):
            stream = qemu_snapshot(guest, work)
            print(f"qemu migration stream: {os.path.getsize(stream)} bytes")
            qargv = qemu_base(guest) + ["-incoming", f"exec:cat {stream}"]
            # On this KVM-PVM host QEMU's restored counter guest starts over from its entry point
            # (it prints "counter: ready" again and its mark is lost), so QEMU's figure is to its
            # first serial output, not to an answer from the restored state. docs/snapshots.md.
            try:
                q50, q99 = latency("qemu", qargv, args.qemu_clones or args.clones, b"counter:")
                q_uss = resident("qemu", qargv, args.resident, b"counter:")
            except RuntimeError as error:
                print(f"qemu    restore failed: {error}")
                return 0
            print(f"ratios vmhive/qemu: latency p50 {v50 / q50:.3f}, p99 {v99 / q99:.3f}, private memory per clone {v_uss / q_uss:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
