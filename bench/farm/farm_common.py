"""Helpers shared by the farm's benches (farm_bench.py, scan16.py): a snapshot
of the responder guest, a network namespace of the bench's own, the farm
started inside it, and what its clone processes cost (PSS, CPU).

Everything runs inside the namespace; nothing is sent on the host's own
interfaces.
"""
import json, os, shutil, signal, socket, subprocess, sys, time

RESPONDER_ADDRESS = "10.0.0.2"
RESPONDER_MAC = "02:00:00:00:00:aa"
GATEWAY_MAC = "02:76:68:00:00:01"  # the farm's default gateway_mac
CLONE_HOLD_FD = 4  # a farm clone's --hold-fd: open while held, closed once it runs (src/farm/gateway.cc)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def private_build(build, work):
    """Copies of build/vmhive and build/guests/responder.elf in work/build: a
    rebuild of build while the bench runs cannot change the binary the farm
    starts its clones from (it execs its own /proc/self/exe)."""
    copy = os.path.join(work, "build")
    os.makedirs(os.path.join(copy, "guests"))
    shutil.copy2(os.path.join(build, "vmhive"), os.path.join(copy, "vmhive"))
    shutil.copy2(os.path.join(build, "guests", "responder.elf"), os.path.join(copy, "guests", "responder.elf"))
    return copy


def make_snapshot(build, work, ports=(22, 80), mem="16M"):
    """A snapshot of the responder guest at RESPONDER_ADDRESS (its virtio-net
    device on a socket pair: no tap, no network), in work/snapshot."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    control = os.path.join(work, "r.sock")
    vm = subprocess.Popen([os.path.join(build, "vmhive"), "run", "--kernel", os.path.join(build, "guests", "responder.elf"),
                           "--mem", mem, "--net", "fd=%d,mac=%s" % (b.fileno(), RESPONDER_MAC), "--control", control,
                           "--cmdline", "ip=%s ports=%s" % (RESPONDER_ADDRESS, ",".join(map(str, ports)))],
                          pass_fds=[b.fileno()], stdout=subprocess.PIPE)
    b.close()
    try:
        if b"ready" not in vm.stdout.readline():
            sys.exit("farm bench: the responder did not start")
        snapshot = os.path.join(work, "snapshot")
        sh(os.path.join(build, "vmhive"), "snapshot", "--control", control, "--stop", snapshot)
        vm.wait(timeout=30)
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
        a.close()
    return snapshot


def farm_config(snapshot, tap, prefix, budget, ready, idle_timeout_s, ports=(22, 80)):
    return {"outside_tap": tap, "range": prefix, "budget": budget,
            "profiles": [{"name": "responder", "snapshot": snapshot, "address": RESPONDER_ADDRESS,
                          "mac": RESPONDER_MAC, "ports": list(ports), "ready": ready, "idle_timeout_s": idle_timeout_s}]}


class Netns:
    """A network namespace of the bench's own (`with Netns("name") as ns:`),
    deleted on the way out whatever happened; ns.run(...) runs a command in it."""

    def __init__(self, name):
        self.name = name
        self.prefix = ["ip", "netns", "exec", name]

    def __enter__(self):
        sh("ip", "netns", "add", self.name)
        self.run("ip", "link", "set", "lo", "up")
        return self

    def run(self, *args, check=True):
        return sh(*self.prefix, *args, check=check)

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)
        return False


def start_farm(ns, build, config_path, stdout=subprocess.PIPE, timeout_s=60):
    """`vmhive farm CONFIG` inside the namespace (`ip netns exec` execs it, so
    the Popen's pid is the farm's), once it has said "ready". It runs in a
    session of its own: a Ctrl-C at the terminal reaches the bench, which
    stops the farm with SIGTERM, not the farm and each of its clones at once
    (they share the farm's process group)."""
    farm = subprocess.Popen(ns.prefix + [os.path.join(build, "vmhive"), "farm", config_path], stdout=stdout, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while True:
        line = farm.stdout.readline()
        if '"ready"' in line:
            return farm
        if not line or time.monotonic() > deadline:
            stop_farm(farm)
            sys.exit("farm bench: the farm did not start")


def farm_children(farm_pid):
    """The farm's child processes (its clones), by pid."""
    children = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == farm_pid:
                    children.append(int(pid))
        except (OSError, ValueError, IndexError):
            continue
    return children


def read_pss_kib(pid):
    """A process's proportional set size in KiB, or None if it has gone (or is a zombie)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def process_cpu_ticks(pid, with_children=False):
    """utime + stime of a process (and, with_children, of its reaped children), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks


def clone_memory_kib(farm_pid):
    """Proportional set size of every clone process (children of the farm), in KiB, and their count."""
    total, count = 0, 0
    for pid in farm_children(farm_pid):
        pss = read_pss_kib(pid)
        if pss is not None:
            total += pss
            count += 1
    return total, count


def stop_farm(farm, timeout_s=120, read_output=True):
    """SIGTERM (the farm ends its clones, waits for them and prints "stopped"
    with its counters), then SIGKILL if it lingers, and then any clone it left
    behind is killed by its pid. Returns what the farm printed after the signal
    (with read_output; without, the caller reads its stdout)."""
    if farm is None or farm.returncode is not None:  # none, or stopped and waited for already
        return ""
    children = farm_children(farm.pid) if farm.poll() is None else []
    if farm.poll() is None:
        farm.send_signal(signal.SIGTERM)
    out, killed = "", False
    try:
        if read_output:
            out, _ = farm.communicate(timeout=timeout_s)
        else:
            farm.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        farm.kill()
        farm.wait()
        killed = True
    if killed:  # a farm killed outright leaves its clones running: end them (still our clones: same command)
        for pid in children:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if b"\0restore\0" not in cmdline.read():
                        continue
                os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
    return out or ""


def stopped_counters(lines):
    """The counters of the farm's "stopped" event, from its stdout lines."""
    for line in reversed(lines):
        if '"stopped"' in line:
            try:
                return json.loads(line).get("counters", {})
            except ValueError:
                pass
    return {}
