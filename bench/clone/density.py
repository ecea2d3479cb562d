#!/usr/bin/env python3
"""Density: how many idle clones of one snapshot run at once on this host.

    bench/clone/density.py [--target 10000] [--step 500] [--build build]
                           [--qemu 200] [--linux 0 [--skip-idle]] [--out docs/density]

Snapshots the `idle` test guest (guests/idle.c: it halts until its console has
input), then starts `vmhive restore` clones of it, one process each, until
--target run at once, a clone fails, or the host has less than 1 GiB available.
Every --step clones it records host memory (MemTotal - MemAvailable, and the
kernel's part: slab, kernel stacks, page tables), the PSS/USS of a sample of
clones (/proc/PID/smaps_rollup), pids and open files. At the end it measures
host CPU use over 10 s while all of them idle, then sends every clone 'p' and
counts those that answer ("idle: alive ... mark=7": the snapshot's memory).

Then, in the same run, QEMU (Debian's, -accel kvm) boots the same guest as many
times as --qemu (0: skip) allows, one VM at a time, recording the same memory
figures, so the two lines share the plot: PNG and CSV go to --out.{png,csv}.

With --linux N it then boots the default Linux guest (build/linux-guest, no
modules) to its shell, snapshots it there and starts clones of it one by one,
each asked for a command's answer before the next starts, until N run or one
does not answer; then every clone answers a second command.
"""
import argparse, os, random, resource, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clone_bench import smaps  # noqa: E402  (PSS and USS of a process, in KiB)

def meminfo():
    values = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, rest = line.split(":", 1)
            values[key] = int(rest.split()[0])
    return values

def cpu_busy_fraction(seconds):
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]
    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)

def count_pids():
    return len([name for name in os.listdir("/proc") if name.isdigit()])

def wait_for_file(path, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if text in f.read():
                    return True
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return False

def stop_all(procs, timeout=60):
    """SIGTERM to every process still running, then a wait; SIGKILL for those that do not end."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

def raise_limits(target):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(1048576, max(hard, 8 * target + 1024))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Each clone takes 4 pids: its main and vCPU threads, KVM's NX huge page
    # recovery task in its process, and KVM's kvm-pit kernel thread. The
    # default pid_max of a 2-CPU machine (32768) stops near 8,000 clones.
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    if pid_max < 8 * target:
        try:
            with open("/proc/sys/kernel/pid_max", "w") as f:
                f.write(str(min(4194304, 8 * target)))
            print(f"density: kernel.pid_max {pid_max} -> {min(4194304, 8 * target)}")
        except OSError as error:
            print(f"density: kernel.pid_max stays {pid_max} ({error})")

def snapshot_idle(vmhive, guest, work):
    control, snap = f"{work}/vm.sock", f"{work}/snapshot"
    log = f"{work}/reference.log"
    vm = subprocess.Popen([vmhive, "run", "--kernel", guest, "--control", control, "--console", log],
                          stdin=subprocess.PIPE)
    if not wait_for_file(log, b"idle: ready", 30):
        raise RuntimeError("the idle guest did not start")
    vm.stdin.write(b"m7x"); vm.stdin.flush()
    if not wait_for_file(log, b"mark set to 7", 30):
        raise RuntimeError("the idle guest did not take its mark")
    subprocess.run([vmhive, "snapshot", "--control", control, snap, "--stop"], check=True,
                   capture_output=True)
    vm.wait(timeout=30)
    return snap

def record(rows, kind, count, base, pids, sample_pids):
    now = meminfo()
    pss = uss = 0
    for pid in sample_pids:
        try:
            p, u = smaps(pid)
        except (FileNotFoundError, KeyError, ProcessLookupError):
            continue
        pss += p; uss += u
    samples = max(1, len(sample_pids))
    row = {
        "kind": kind, "count": count,
        "host_used_mib": (base["MemAvailable"] - now["MemAvailable"]) / 1024,
        "slab_mib": (now["Slab"] - base["Slab"]) / 1024,
        "kernel_stack_mib": (now["KernelStack"] - base["KernelStack"]) / 1024,
        "page_tables_mib": (now["PageTables"] - base["PageTables"]) / 1024,
        "pss_kib": pss / samples, "uss_kib": uss / samples,
        "pids": count_pids() - pids, "available_mib": now["MemAvailable"] / 1024,
    }
    rows.append(row)
    per = row["host_used_mib"] * 1024 / max(1, count)
    print(f"{kind:6} {count:6}: host {row['host_used_mib']:8.1f} MiB ({per:6.0f} KiB/VM; slab "
          f"{row['slab_mib']:.0f}, stacks {row['kernel_stack_mib']:.0f}, page tables "
          f"{row['page_tables_mib']:.0f} MiB), PSS {row['pss_kib']:.0f} KiB, USS {row['uss_kib']:.0f} KiB "
          f"per VM, +{row['pids']} processes, {row['available_mib']:.0f} MiB left", flush=True)
    return row

def run_vmhive(args, vmhive, snap, work, rows):
    consoles = f"{work}/consoles"
    os.makedirs(consoles)
    base, pids = meminfo(), count_pids()
    clones, stopped_because = [], None
    start = time.monotonic()
    devnull = open(os.devnull, "wb")
    try:
        while len(clones) < args.target:
            index = len(clones)
            errors = open(f"{consoles}/{index}.err", "wb")
            try:
                proc = subprocess.Popen([vmhive, "restore", snap, "--console", f"{consoles}/{index}.log"],
                                        stdin=subprocess.PIPE, stdout=devnull, stderr=errors)
            except OSError as error:
                stopped_because = f"clone {index} could not start: {error}"
                break
            finally:
                errors.close()
            clones.append(proc)
            if len(clones) % args.step == 0 or len(clones) == args.target:
                time.sleep(1)  # let the last ones finish restoring
                dead = [i for i, c in enumerate(clones) if c.poll() is not None]
                if dead:
                    with open(f"{consoles}/{dead[0]}.err") as f:
                        reason = f.read().strip()
                    stopped_because = f"{len(dead)} clone(s) exited; clone {dead[0]}: {reason or 'no message'}"
                    break
                sample = [c.pid for c in random.sample(clones, min(20, len(clones)))]
                row = record(rows, "vmhive", len(clones), base, pids, sample)
                if row["available_mib"] < 1024:
                    stopped_because = "less than 1 GiB of host memory available"
                    break
        elapsed = time.monotonic() - start
        running = sum(1 for c in clones if c.poll() is None)
        print(f"vmhive: {running} clones running after {elapsed:.1f} s "
              f"({len(clones) / elapsed:.0f} started per second)"
              + (f"; stopped: {stopped_because}" if stopped_because else ""), flush=True)
        time.sleep(10)  # the last restores finish, page cache and DAMON settle
        busy = cpu_busy_fraction(10)
        print(f"vmhive: host CPU {100 * busy:.1f} % busy over 10 s with {running} idle clones", flush=True)
        for clone in clones:
            if clone.poll() is None:
                try:
                    clone.stdin.write(b"p"); clone.stdin.flush()
                except OSError:
                    pass
        deadline = time.monotonic() + max(60, len(clones) / 50)
        answered = set()
        while time.monotonic() < deadline and len(answered) < len(clones):
            for index in range(len(clones)):
                if index in answered:
                    continue
                try:
                    with open(f"{consoles}/{index}.log", "rb") as f:
                        if b"idle: alive" in f.read():
                            answered.add(index)
                except FileNotFoundError:
                    pass
            time.sleep(1)
        marks = 0
        for index in answered:
            with open(f"{consoles}/{index}.log", "rb") as f:
                marks += b"mark=7\n" in f.read()
        print(f"vmhive: liveness: {len(answered)} of {len(clones)} clones answered on their console, "
              f"{marks} with the snapshot's mark", flush=True)
        return len(clones), running, len(answered), busy, stopped_because
    finally:
        stop_all(clones)

def run_qemu(args, guest, work, rows):
    if args.qemu <= 0 or not shutil.which("qemu-system-x86_64"):
        print("qemu: skipped" + ("" if args.qemu <= 0 else " (qemu-system-x86_64 not installed)"))
        return 0
    base, pids = meminfo(), count_pids()
    vms = []
    logs = f"{work}/qemu"
    os.makedirs(logs)
    step = max(1, min(args.step, args.qemu // 10))
    try:
        for index in range(args.qemu):
            log = f"{logs}/{index}.log"
            vms.append(subprocess.Popen(
                ["qemu-system-x86_64", "-accel", "kvm", "-M", "pc", "-m", "256", "-display", "none",
                 "-nodefaults", "-no-user-config", "-kernel", guest, "-serial", f"file:{log}",
                 "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            if not wait_for_file(log, b"idle: ready", 60):
                print(f"qemu: VM {index} did not start; stopping at {index}")
                break
            if (index + 1) % step == 0:
                sample = [vm.pid for vm in random.sample(vms, min(20, len(vms)))]
                row = record(rows, "qemu", index + 1, base, pids, sample)
                if row["available_mib"] < 1024:
                    break
        return len(vms)
    finally:
        stop_all(vms)

def snapshot_linux(vmhive, build, work):
    """Boots the default Linux guest (no modules, 1 vCPU, 256 MiB) to its shell and snapshots it there."""
    info = subprocess.run([vmhive, "info"], capture_output=True, text=True).stdout
    field = lambda name: next((line.split(":", 1)[1].strip() for line in info.splitlines()
                               if line.startswith(name)), "")
    tradeoffs = field("speed trade-offs").split(" (opt-in")[0]
    cmdline = f"{field('default cmdline')} {tradeoffs} vmhive.modules=none"
    control, snap, log = f"{work}/linux.sock", f"{work}/linux-snapshot", f"{work}/linux-reference.log"
    guest = f"{build}/linux-guest"
    vm = subprocess.Popen([vmhive, "run", "--kernel", f"{guest}/vmlinux", "--initrd", f"{guest}/initramfs.cpio",
                           "--mem", "256M", "--cmdline", cmdline, "--control", control, "--console", log],
                          stdin=subprocess.PIPE)
    start = time.monotonic()
    while not wait_for_file(log, b"vmhive:/# ", 5):
        if vm.poll() is not None or time.monotonic() - start > 1800:
            vm.kill()
            raise RuntimeError("the Linux guest did not reach its shell (see docs/pvm.md wall 13 if its "
                               f"console shows a busybox segfault): {log}")
    print(f"linux: shell after {time.monotonic() - start:.0f} s", flush=True)
    subprocess.run([vmhive, "snapshot", "--control", control, snap, "--stop"], check=True, capture_output=True)
    vm.wait(timeout=60)
    return snap

def run_linux(args, vmhive, work, rows):
    snap = snapshot_linux(vmhive, args.build, work)
    consoles = f"{work}/linux-consoles"
    os.makedirs(consoles)
    base, pids = meminfo(), count_pids()
    clones, stopped = [], None
    devnull = open(os.devnull, "wb")
    try:
        while len(clones) < args.linux:
            index = len(clones)
            clones.append(subprocess.Popen([vmhive, "restore", snap, "--console", f"{consoles}/{index}.log"],
                                           stdin=subprocess.PIPE, stdout=devnull, stderr=devnull))
            clones[-1].stdin.write(f"echo LINUX-CLONE-{index}-$((6*7))\n".encode()); clones[-1].stdin.flush()
            if not wait_for_file(f"{consoles}/{index}.log", f"LINUX-CLONE-{index}-42".encode(), 600):
                stopped = f"Linux clone {index} did not answer within 600 s"
                break
            if len(clones) % max(1, args.linux // 10) == 0 or len(clones) == args.linux:
                sample = [c.pid for c in random.sample(clones, min(20, len(clones)))]
                row = record(rows, "linux", len(clones), base, pids, sample)
                if row["available_mib"] < 1024:
                    stopped = "less than 1 GiB of host memory available"
                    break
        time.sleep(10)
        busy = cpu_busy_fraction(10)
        print(f"linux: {len(clones)} Linux clones at their shell" + (f"; stopped: {stopped}" if stopped else "") +
              f"; host CPU {100 * busy:.1f} % busy over 10 s while they idle", flush=True)
        for index, clone in enumerate(clones):
            clone.stdin.write(f"echo ALIVE-{index}-$((7*6))\n".encode()); clone.stdin.flush()
        alive = sum(wait_for_file(f"{consoles}/{i}.log", f"ALIVE-{i}-42".encode(), 300) for i in range(len(clones)))
        print(f"linux: liveness: {alive} of {len(clones)} Linux clones answered a second command", flush=True)
    finally:
        for clone in clones:
            clone.kill()
        for clone in clones:
            clone.wait()

def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("density: no matplotlib (apt-get install python3-matplotlib, run with /usr/bin/python3): no plot")
        return
    figure, axis = plt.subplots(figsize=(8, 5))
    for kind, style in (("vmhive", "o-"), ("qemu", "s-"), ("linux", "^-")):
        points = [(r["count"], r["host_used_mib"] / 1024) for r in rows if r["kind"] == kind]
        if points:
            label = ("vmhive, Linux clones at their shell" if kind == "linux"
                     else f"{kind} (idle test guest)") + ", 256 MiB RAM each"
            axis.plot([p[0] for p in points], [p[1] for p in points], style, markersize=3, label=label)
    axis.set_xlabel("VMs running at once")
    axis.set_ylabel("host memory used (GiB, MemTotal - MemAvailable growth)")
    axis.set_title("Host memory against VM count (2 cores, 24 GiB, KVM-PVM)")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    print(f"density: plot in {path}")

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=int, default=10000)
    parser.add_argument("--step", type=int, default=500)
    parser.add_argument("--qemu", type=int, default=200, help="QEMU VMs to start (0: none)")
    parser.add_argument("--linux", type=int, default=0, help="Linux clones to start after (0: none)")
    parser.add_argument("--skip-idle", action="store_true", help="no idle test-guest clones (with --linux)")
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default="docs/density")
    parser.add_argument("--plot-only", action="store_true", help="only draw --out.png from --out.csv")
    args = parser.parse_args()
    if args.plot_only:
        with open(args.out + ".csv") as f:
            keys = f.readline().strip().split(",")
            rows = []
            for line in f:
                values = dict(zip(keys, line.strip().split(",")))
                rows.append({k: (v if k == "kind" else float(v)) for k, v in values.items()})
        plot(rows, args.out + ".png")
        return
    vmhive = os.path.abspath(f"{args.build}/vmhive")
    guest = os.path.abspath(f"{args.build}/guests/idle.elf")
    raise_limits(args.target)
    rows = []
    work = tempfile.mkdtemp(prefix="vmhive-density-", dir="/dev/shm")
    try:
        if not args.skip_idle:
            snap = snapshot_idle(vmhive, guest, work)
            run_vmhive(args, vmhive, snap, work, rows)
            time.sleep(5)
            run_qemu(args, guest, work, rows)
        if args.linux > 0:
            run_linux(args, vmhive, work, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(args.out + ".csv", "w") as f:
        keys = list(rows[0].keys()) if rows else []
        f.write(",".join(keys) + "\n")
        for row in rows:
            f.write(",".join(f"{row[k]:.1f}" if isinstance(row[k], float) else str(row[k]) for k in keys) + "\n")
    plot(rows, args.out + ".png")

if __name__ == "__main__":
    main()
