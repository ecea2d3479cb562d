#!/usr/bin/env python3
"""A scan of a whole /16 answered by the farm: every address probed once (one
ICMP echo request, or one TCP SYN), each answered by a clone of its own, the
clones reclaimed as the scan moves on. Issue target: one 2-core host answers
every address of a /16 (65,536), memory per live low-interaction clone under
1.5 MiB.

    python3 bench/farm/scan16.py [--build build] [--prefix 16] [--rate 150] [--budget 4096]
        [--idle-timeout 2] [--probe icmp|tcp:22] [--csv scan.csv] [--plot docs/farm-scan16.svg]
        [--addresses-limit N]

Everything happens inside a network namespace the script makes (the farm's
outside tap and the scanner, its addresses 10.9.0.1 and the scanned range);
nothing is sent on the host's own interfaces, the scan is bounded in probes
and in time, and the namespace, the farm and its clones are gone at the end
(also on Ctrl-C or an error).

The scanner is a raw-socket prober of this file's own (run inside the
namespace): one probe per address at --rate, each reply matched to its probe
by the address it came from and the probe's identifier (the echo's payload,
the SYN's sequence number), its latency the kernel's receive timestamp minus
the time taken just before the probe was sent. Addresses that did not answer
within --timeout are probed again, --retries times at most (reported).

Once a second, the script samples: live clones (the farm's events: "bound"
adds one, "reclaimed", "evicted" and "breach" take one away), the farm's clone
processes (serving ones, which have closed their --hold-fd, and held ones),
their PSS (/proc/PID/smaps_rollup), CPU of the farm and of its clones. It
prints a summary beside the anchors (Potemkin, SOSP '05: 521 ms from the
first packet to the reply, ~0.85 MB per clone, >64,000 addresses on a handful
of servers; Honeyd: ~2,000 TCP transactions/s), and writes the per-second
series to --csv and a plot (an SVG drawn here, no plotting library) to --plot.

Needs root, /dev/kvm and iproute2.
"""
import argparse, array, bisect, json, math, os, random, shutil, socket, struct, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from farm_common import CLONE_HOLD_FD, GATEWAY_MAC, Netns, farm_config, make_snapshot, percentile, private_build, \
    process_cpu_ticks, read_pss_kib, start_farm, stop_farm, stopped_counters

TAP = "scan0"
SCANNER_ADDRESS = "10.9.0.1"
NEXT_HOP = "10.9.0.2"  # the farm, as the router the range is reached through
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_RCVBUFFORCE = 33


# --- the prober (run inside the namespace by `ip netns exec`) -------------------------------------------

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


class Prober:
    """One probe per address; replies matched to probes; latencies from kernel receive timestamps."""

    def __init__(self, spec):
        self.base = struct.unpack("!I", socket.inet_aton(spec["base"]))[0]
        self.count = spec["count"]
        self.source = socket.inet_aton(spec["source"])
        self.kind, self.port = spec["probe"], spec.get("port", 0)
        self.ident = os.getpid() & 0xffff
        self.sport = 40000 + os.getpid() % 20000
        self.seq_base = random.getrandbits(32) & 0xff000000
        self.tx = array.array("q", [0]) * self.count          # the latest probe's send time (ns, CLOCK_REALTIME)
        self.first_tx = array.array("q", [0]) * self.count    # the first probe's
        self.answered_tx = array.array("q", [0]) * self.count  # the probe that was answered
        self.rx = array.array("q", [0]) * self.count          # its reply's kernel receive time
        self.attempts = array.array("B", [0]) * self.count
        self.sent = self.answered = self.unmatched = 0
        protocol = socket.IPPROTO_ICMP if self.kind == "icmp" else socket.IPPROTO_TCP
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        self.sock.settimeout(0.2)
        self.stopping = False

    def packet(self, index, attempt):
        if self.kind == "icmp":
            payload = struct.pack("!IB", index, attempt) + b"vmhive-scan16".ljust(51, b".")  # 56 bytes, as ping's
            header = struct.pack("!BBHHH", 8, 0, 0, self.ident, index & 0xffff)
            return struct.pack("!BBHHH", 8, 0, checksum(header + payload), self.ident, index & 0xffff) + payload
        sequence = (self.seq_base + (index << 8) + attempt) & 0xffffffff
        destination = struct.pack("!I", self.base + index)
        header = struct.pack("!HHIIBBHHH", self.sport, self.port, sequence, 0, 5 << 4, 0x02, 64240, 0, 0)
        pseudo = self.source + destination + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
        return header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]

    def send(self, index, attempt):
        packet = self.packet(index, attempt)
        address = socket.inet_ntoa(struct.pack("!I", self.base + index))
        now = time.time_ns()
        self.tx[index] = now
        if attempt == 1:
            self.first_tx[index] = now
        self.attempts[index] = attempt
        try:
            self.sock.sendto(packet, (address, 0))
        except OSError:  # ENOBUFS: the tap's queue full; counted as a probe that got no answer
            pass
        self.sent += 1

    def receive(self):
        while not self.stopping:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(2048, 64)
            except socket.timeout:
                continue
            except OSError:
                return
            stamp = time.time_ns()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    stamp = seconds * 1_000_000_000 + nanoseconds
            self.match(data, stamp)

    def match(self, data, stamp):
        if len(data) < 20:
            return
        header_length = (data[0] & 0x0f) * 4
        source = struct.unpack("!I", data[12:16])[0]
        body = data[header_length:]
        index = source - self.base
        if not 0 <= index < self.count:
            return
        if self.kind == "icmp":
            if len(body) < 13 or body[0] != 0 or struct.unpack("!H", body[4:6])[0] != self.ident:
                return
            echoed, attempt = struct.unpack("!IB", body[8:13])
            if echoed != index:
                self.unmatched += 1
                return
        else:
            if len(body) < 20:
                return
            sport, dport, _, ack = struct.unpack("!HHII", body[:12])
            flags = body[13]
            if sport != self.port or dport != self.sport or not (flags & 0x12 == 0x12 or flags & 0x04):  # SYN-ACK, or RST
                return
            sequence = (ack - 1 - self.seq_base) & 0xffffffff
            if sequence >> 8 != index:
                self.unmatched += 1
                return
            attempt = sequence & 0xff
        if self.rx[index] or attempt != self.attempts[index]:
            return  # a duplicate, or the answer to an earlier attempt arriving late (its time is unknown)
        self.answered_tx[index] = self.tx[index]
        self.rx[index] = stamp
        self.answered += 1


def probe_worker(spec):
    prober = Prober(spec)
    deadline = time.monotonic() + spec["max_seconds"]
    receiver = threading.Thread(target=prober.receive, daemon=True)
    receiver.start()
    emit = lambda **kw: print(json.dumps(kw), flush=True)
    emit(event="start", time_ns=time.time_ns())
    last_progress = time.monotonic()
    rate = spec["rate"]
    pending = list(range(prober.count))
    passes = 0
    stopped_early = False
    for attempt in range(1, spec["retries"] + 2):
        if not pending:
            break
        passes = attempt
        began = time.monotonic()
        for k, index in enumerate(pending):
            due = began + k / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            prober.send(index, attempt)
            if now - last_progress >= 1:
                last_progress = now
                emit(event="progress", sent=prober.sent, answered=prober.answered)
            if now > deadline:
                stopped_early = True
                break
        wait_until = min(time.monotonic() + spec["timeout"], deadline)
        while time.monotonic() < wait_until and prober.answered < prober.count:
            time.sleep(0.1)
            if time.monotonic() - last_progress >= 1:
                last_progress = time.monotonic()
                emit(event="progress", sent=prober.sent, answered=prober.answered)
        if stopped_early:
            break
        pending = [index for index in pending if not prober.rx[index]]
    prober.stopping = True
    receiver.join()
    with open(spec["out"], "w") as out:
        for index in range(prober.count):
            out.write("%d %d %d %d %d %d\n" % (index, prober.first_tx[index], prober.tx[index], prober.answered_tx[index],
                                               prober.rx[index], prober.attempts[index]))
    emit(event="done", sent=prober.sent, answered=prober.answered, unmatched=prober.unmatched, passes=passes,
         stopped_early=stopped_early, time_ns=time.time_ns())


# --- the farm's events and the once-a-second sampler ---------------------------------------------------

class FarmWatch:
    """Reads the farm's stdout (its JSON event lines) in a thread: live clones by address."""

    def __init__(self, farm, keep_path=None):
        self.farm = farm
        self.keep = open(keep_path, "w") if keep_path else None
        self.lock = threading.Lock()
        self.live = {}  # address -> clone
        self.peak = 0
        self.counts = {}
        self.lines = []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.farm.stdout:
            if self.keep:
                self.keep.write(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            with self.lock:
                self.counts[kind] = self.counts.get(kind, 0) + 1
                if kind == "bound":
                    self.live[event["address"]] = event["clone"]
                    self.peak = max(self.peak, len(self.live))
                elif kind in ("reclaimed", "evicted", "breach"):
                    if self.live.get(event.get("address")) == event.get("clone"):
                        del self.live[event["address"]]
                elif kind != "contained":
                    self.lines.append(line)  # stopped, clone_failed, clone_exited, ...

    def live_count(self):
        with self.lock:
            return len(self.live)


def host_cpu():
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def host_used_mib():
    values = {}
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            name, value = line.split(":")
            values[name] = int(value.split()[0])
    return (values["MemTotal"] - values["MemAvailable"]) / 1024


def clone_processes(farm_pid):
    """The farm's children now: (pid, serving, cpu ticks) for each that has not ended."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[1]) != farm_pid:
                continue
            ticks = int(fields[11]) + int(fields[12])
            if fields[0] == "Z":
                found.append((int(entry), None, ticks))  # killed, not reaped yet
                continue
            serving = not os.path.exists(f"/proc/{entry}/fd/{CLONE_HOLD_FD}")  # closed once its vCPUs run
            found.append((int(entry), serving, ticks))
        except (OSError, ValueError, IndexError):
            continue
    return found


class Sampler:
    def __init__(self, farm, watch, pss_every, pss_sample):
        self.farm, self.watch, self.pss_every, self.pss_sample = farm, watch, pss_every, pss_sample
        self.rows = []
        self.progress = {"sent": 0, "answered": 0}
        self.previous = None
        self.sample_seconds = []
        self.baseline_used = host_used_mib()
        self.farm_ticks_start = self.farm_ticks()

    def farm_ticks(self):
        """(the farm's own CPU, its reaped clones' CPU), in ticks; a clone's time counts once it is reaped."""
        own = process_cpu_ticks(self.farm.pid) or 0
        return own, (process_cpu_ticks(self.farm.pid, with_children=True) or 0) - own

    def pss_of(self, pids):
        if self.pss_sample and len(pids) > self.pss_sample:
            pids = random.sample(pids, self.pss_sample)
        return [p for p in map(read_pss_kib, pids) if p is not None]

    def sample(self, t):
        began = time.monotonic()
        processes = clone_processes(self.farm.pid)
        farm_ticks = process_cpu_ticks(self.farm.pid, with_children=True) or 0
        farm_own = process_cpu_ticks(self.farm.pid) or 0
        clone_ticks = sum(ticks for _, _, ticks in processes) + farm_ticks - farm_own
        busy, total = host_cpu()
        serving = [pid for pid, is_serving, _ in processes if is_serving]
        held = [pid for pid, is_serving, _ in processes if is_serving is False]
        row = {"t_s": round(t, 3), "probes_sent": self.progress["sent"], "answered": self.progress["answered"],
               "live_clones": self.watch.live_count(), "serving_processes": len(serving), "held_processes": len(held),
               "dying_processes": len(processes) - len(serving) - len(held)}
        if self.pss_every and len(self.rows) % self.pss_every == 0:
            # A random sample of the clones when there are many (each read walks a process's page
            # tables: ~0.1 ms, far more on a busy host); the totals are its mean times the count.
            serving_pss = self.pss_of(serving)
            held_pss = self.pss_of(held)
            row["pss_per_serving_clone_mib"] = round(sum(serving_pss) / len(serving_pss) / 1024, 3) if serving_pss else ""
            row["pss_serving_mib"] = round(sum(serving_pss) / len(serving_pss) * len(serving) / 1024, 2) if serving_pss else 0
            row["pss_held_mib"] = round(sum(held_pss) / len(held_pss) * len(held) / 1024, 2) if held_pss else 0
            row["pss_farm_mib"] = round((read_pss_kib(self.farm.pid) or 0) / 1024, 2)
            row["pss_sampled"] = len(serving_pss)
        row["host_used_mib"] = round(host_used_mib(), 1)
        now = time.monotonic()
        if self.previous:
            then, farm_then, clones_then, busy_then, total_then = self.previous
            elapsed = (now - then) * CLOCK_TICK
            row["farm_cpu_pct"] = round(100 * (farm_own - farm_then) / elapsed, 1)
            row["clones_cpu_pct"] = round(100 * max(0, clone_ticks - clones_then) / elapsed, 1)
            row["host_cpu_pct"] = round(100 * (busy - busy_then) / max(1, total - total_then), 1)  # of all cores
        self.previous = (now, farm_own, clone_ticks, busy, total)
        self.sample_seconds.append(time.monotonic() - began)
        self.rows.append(row)


# --- the plot: an SVG drawn by hand ----------------------------------------------------------------------

def nice_step(span, ticks=6):
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def fmt(value):
    return ("%g" % value) if abs(value) < 10000 else "{:,.0f}".format(value)


def write_svg(path, rows, title, subtitle, last_probe_s=None):
    width, height = 960, 680
    left, right, top, gap, panel = 80, 80, 90, 90, 220
    plot_width = width - left - right
    t_max = max([r["t_s"] for r in rows] + [1])
    x_step = nice_step(t_max, 10)
    x = lambda t: left + plot_width * t / t_max
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="13">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="26" font-size="17" font-weight="bold">%s</text>' % (left, escape(title)),
           '<text x="%d" y="46" fill="#444">%s</text>' % (left, escape(subtitle))]

    def frame(y0, label_left, label_right=None):
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>' % (left, y0, plot_width, panel))
        t = 0
        while t <= t_max + 1e-9:
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x(t), y0, x(t), y0 + panel))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x(t), y0 + panel + 17, fmt(t)))
            t += x_step
        out.append('<text x="%d" y="%d" text-anchor="middle">time since the scan started (s)</text>'
                   % (left + plot_width / 2, y0 + panel + 36))
        out.append('<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle">%s</text>'
                   % (left - 55, y0 + panel / 2, escape(label_left)))
        if label_right:
            out.append('<text transform="translate(%d,%d) rotate(90)" text-anchor="middle">%s</text>'
                       % (width - right + 60, y0 + panel / 2, escape(label_right)))

    def polyline(points, colour, dash=None, width_px=2):
        segments, current = [], []
        for point in points:
            if point is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append(point)
        if current:
            segments.append(current)
        for segment in segments:
            out.append('<polyline fill="none" stroke="%s" stroke-width="%g"%s points="%s"/>'
                       % (colour, width_px, ' stroke-dasharray="%s"' % dash if dash else "",
                          " ".join("%.1f,%.1f" % p for p in segment)))

    def legend(y0, entries):  # above the panel
        lx = left
        for label, colour, dash in entries:
            if colour is None:  # a note
                out.append('<text x="%d" y="%d" fill="#555">%s</text>' % (lx, y0 - 8, escape(label)))
                continue
            out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>'
                       % (lx, y0 - 12, lx + 24, y0 - 12, colour, ' stroke-dasharray="%s"' % dash if dash else ""))
            out.append('<text x="%d" y="%d">%s</text>' % (lx + 30, y0 - 8, escape(label)))
            lx += 44 + 7.0 * len(label)

    def last_probe(y0):
        if last_probe_s is not None and 0 < last_probe_s <= t_max:
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="2 3"/>'
                       % (x(last_probe_s), y0, x(last_probe_s), y0 + panel))
            out.append('<text x="%.1f" y="%d" fill="#555" font-size="11">last probe</text>' % (x(last_probe_s) + 4, y0 + 14))

    # Panel 1: live clones (left axis), replies per second (right axis).
    y0 = top
    frame(y0, "live clones", "replies per second")
    clones_max = max([r["live_clones"] for r in rows] + [r.get("serving_processes", 0) for r in rows] + [1])
    step = nice_step(clones_max, 5)
    clones_top = step * math.ceil(clones_max / step)
    y_clones = lambda v: y0 + panel - panel * v / clones_top
    v = 0
    while v <= clones_top + 1e-9:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (left, y_clones(v), left + plot_width, y_clones(v)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, y_clones(v) + 4, fmt(v)))
        v += step
    rate_max = max([r.get("replies_in_second", 0) for r in rows] + [1])
    rstep = nice_step(rate_max, 5)
    rate_top = rstep * math.ceil(rate_max / rstep)
    y_rate = lambda v: y0 + panel - panel * v / rate_top
    v = 0
    while v <= rate_top + 1e-9:
        out.append('<text x="%d" y="%.1f">%s</text>' % (left + plot_width + 6, y_rate(v) + 4, fmt(v)))
        v += rstep
    polyline([(x(r["t_s"]), y_rate(r.get("replies_in_second", 0))) for r in rows], "#999", dash="4 3", width_px=1.5)
    polyline([(x(r["t_s"]), y_clones(r["live_clones"])) for r in rows], "#1f5fbf", width_px=2.5)
    last_probe(y0)
    legend(y0, [("live clones (farm events)", "#1f5fbf", None), ("replies per second (right axis)", "#999", "4 3")])

    # Panel 2: latency, first packet to reply, per second of sending (log scale).
    y0 = top + panel + gap
    frame(y0, "first packet \u2192 reply (ms)")
    latencies = [r[k] for r in rows for k in ("latency_p50_ms", "latency_p99_ms", "latency_max_ms") if r.get(k) not in (None, "")]
    low = 10 ** math.floor(math.log10(max(min(latencies), 0.01))) if latencies else 1
    high = 10 ** math.ceil(math.log10(max(max(latencies), low * 10))) if latencies else 1000
    y_latency = lambda v: y0 + panel - panel * (math.log10(max(v, low)) - math.log10(low)) / (math.log10(high) - math.log10(low))
    decade = low
    while decade <= high * 1.0001:
        for factor in (1, 2, 5):
            v = decade * factor
            if v > high * 1.0001:
                break
            strong = factor == 1
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
                       % (left, y_latency(v), left + plot_width, y_latency(v), "#ddd" if strong else "#f2f2f2"))
            out.append('<text x="%d" y="%.1f" text-anchor="end"%s>%s</text>'
                       % (left - 6, y_latency(v) + 4, "" if strong else ' fill="#777" font-size="11"', fmt(v)))
        decade *= 10

    def series(key):
        return [(x(r["t_s"]), y_latency(r[key])) if r.get(key) not in (None, "") else None for r in rows]
    polyline(series("latency_max_ms"), "#bbb", width_px=1)
    polyline(series("latency_p99_ms"), "#d0402b", width_px=2)
    polyline(series("latency_p50_ms"), "#2b8a3e", width_px=2.5)
    last_probe(y0)
    legend(y0, [("p50", "#2b8a3e", None), ("p99", "#d0402b", None), ("max", "#bbb", None),
                ("of the probes sent in each second; log scale", None, None)])
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- the bench -------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--prefix", type=int, default=16, help="the farm's range is 10.0.0.0/PREFIX (16..30)")
    parser.add_argument("--rate", type=float, default=150, help="probes a second")
    parser.add_argument("--budget", type=int, default=4096, help="the farm's live clones at most")
    parser.add_argument("--idle-timeout", type=int, default=2, help="seconds before an idle clone is reclaimed")
    parser.add_argument("--ready", type=int, default=16, help="clones the farm keeps restored and held")
    parser.add_argument("--probe", default="icmp", help="icmp (an echo request) or tcp:PORT (a SYN)")
    parser.add_argument("--timeout", type=float, default=3, help="seconds to wait for the last replies of a pass")
    parser.add_argument("--retries", type=int, default=1, help="passes again over the addresses that did not answer")
    parser.add_argument("--addresses-limit", type=int, default=0, help="probe only the first N addresses of the range")
    parser.add_argument("--max-seconds", type=float, default=0, help="a bound on the scan (default: 2x its planned time + 60 s)")
    parser.add_argument("--pss-every", type=int, default=1, help="read clones' PSS every N samples (0: never)")
    parser.add_argument("--pss-sample", type=int, default=100,
                        help="read the PSS of at most N serving clones (a random sample) a second; 0: all")
    parser.add_argument("--keep", help="a directory to keep the raw results in: the farm's event lines and each "
                        "address's probe times (index first_tx last_tx answered_tx rx attempts, ns)")
    parser.add_argument("--csv", help="the per-second series")
    parser.add_argument("--plot", help="an SVG of live clones and latency over time")
    parser.add_argument("--probe-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_worker:
        return probe_worker(json.loads(args.probe_worker))

    build = os.path.abspath(args.build)
    if os.geteuid() != 0 or not os.path.exists("/dev/kvm"):
        sys.exit("scan16: needs root and /dev/kvm")
    if not os.access(os.path.join(build, "vmhive"), os.X_OK) or not os.path.exists(os.path.join(build, "guests", "responder.elf")):
        sys.exit("scan16: no %s/vmhive or %s/guests/responder.elf" % (build, build))
    if not 16 <= args.prefix <= 30:
        sys.exit("scan16: --prefix between 16 and 30")
    if args.probe == "icmp":
        probe, port = "icmp", 0
    elif args.probe.startswith("tcp:") and args.probe[4:].isdigit():
        probe, port = "tcp", int(args.probe[4:])
    else:
        sys.exit("scan16: --probe icmp or tcp:PORT")
    if args.rate <= 0 or args.retries < 0 or args.retries > 5:
        sys.exit("scan16: --rate above 0, --retries 0..5")
    size = 1 << (32 - args.prefix)
    count = min(size, args.addresses_limit) if args.addresses_limit > 0 else size
    planned = count / args.rate
    max_seconds = args.max_seconds or 2 * planned * (1 + args.retries) + (args.retries + 1) * args.timeout + 60

    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    work = tempfile.mkdtemp(prefix="scan16-")
    netns = "vmhscan16-%d" % os.getpid()
    started_at = time.strftime("%Y-%m-%d %H:%M")
    worker = farm = None
    try:
        build = private_build(build, work)
        snapshot = make_snapshot(build, work)
        config = os.path.join(work, "farm.json")
        with open(config, "w") as f:
            json.dump(farm_config(snapshot, TAP, "10.0.0.0/%d" % args.prefix, args.budget, args.ready,
                                  args.idle_timeout), f)
        with Netns(netns) as ns:
            try:
                farm = start_farm(ns, build, config)
                watch = FarmWatch(farm, os.path.join(args.keep, "farm-events.jsonl") if args.keep else None)
                # The range is routed through the farm as a next hop whose MAC is known (a permanent
                # neighbour): the scanner's kernel sends to every address without an ARP entry each (a
                # /16 of neighbour entries would overflow the table, gc_thresh3 = 1,024 by default).
                for command in ("ip link set %s up" % TAP, "ip addr add %s/16 dev %s" % (SCANNER_ADDRESS, TAP),
                                "ip neigh replace %s lladdr %s dev %s nud permanent" % (NEXT_HOP, GATEWAY_MAC, TAP),
                                "ip route add 10.0.0.0/%d via %s dev %s" % (args.prefix, NEXT_HOP, TAP)):
                    ns.run(*command.split())
                spec = {"base": "10.0.0.0", "count": count, "rate": args.rate, "timeout": args.timeout,
                        "retries": args.retries, "probe": probe, "port": port, "source": SCANNER_ADDRESS,
                        "out": os.path.join(work, "probes.txt"), "max_seconds": max_seconds}
                worker = subprocess.Popen(ns.prefix + [sys.executable, os.path.abspath(__file__), "--probe-worker",
                                                       json.dumps(spec)], stdout=subprocess.PIPE, text=True,
                                          start_new_session=True)
                result = run_scan(worker, farm, watch, args, count, max_seconds)
                stop_farm(farm, read_output=False)
                watch.thread.join(timeout=30)
                farm = None
            finally:
                if worker is not None and worker.poll() is None:
                    worker.kill()
                    worker.wait()
                stop_farm(farm, read_output=False)
        if watch.keep:
            watch.keep.close()
        if args.keep:
            shutil.copy(spec["out"], os.path.join(args.keep, "probes.txt"))
        report(args, result, watch, count, probe, port, spec, started_at)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_scan(worker, farm, watch, args, count, max_seconds):
    sampler = Sampler(farm, watch, args.pss_every, args.pss_sample)
    events = {}

    def read_worker():
        for line in worker.stdout:
            event = json.loads(line)
            if event["event"] in ("progress", "done"):
                sampler.progress = {"sent": event["sent"], "answered": event["answered"]}
            events[event["event"]] = event
    reader = threading.Thread(target=read_worker, daemon=True)
    reader.start()
    began = time.monotonic()
    while "start" not in events and time.monotonic() - began < 30:
        time.sleep(0.01)
    if "start" not in events:
        sys.exit("scan16: the prober did not start")
    start_ns = events["start"]["time_ns"]
    tail = args.idle_timeout + 3  # long enough to see the last clones reclaimed
    done_at = None
    next_sample = time.monotonic()
    print("scan16: probing %d addresses at %g/s (about %.0f s)" % (count, args.rate, count / args.rate), flush=True)
    while True:
        sampler.sample((time.time_ns() - start_ns) / 1e9)
        row = sampler.rows[-1]
        if len(sampler.rows) % 10 == 0:
            print("  t=%4.0f s  sent %d  answered %d  live clones %d  serving %d  held %d" % (
                row["t_s"], row["probes_sent"], row["answered"], row["live_clones"], row["serving_processes"],
                row["held_processes"]), flush=True)
        if farm.poll() is not None:
            worker.kill()
            sys.exit("scan16: the farm ended during the scan (exit %s); its last lines: %s" % (
                farm.returncode, "".join(watch.lines[-5:])))
        if done_at is None and worker.poll() is not None:
            done_at = time.monotonic()
        if done_at is not None and time.monotonic() - done_at >= tail:
            break
        if time.monotonic() - began > max_seconds + 30:  # the prober bounds itself; this is a second bound
            print("scan16: the prober overran its bound; stopping it", flush=True)
            worker.kill()
        next_sample += 1
        time.sleep(max(0, next_sample - time.monotonic()))
    sampler.farm_ticks_end = sampler.farm_ticks()
    reader.join(timeout=10)
    if worker.returncode != 0 or "done" not in events:
        sys.exit("scan16: the prober failed (exit %s)" % worker.returncode)
    return {"start_ns": start_ns, "done": events["done"], "sampler": sampler}


def host_memory_slope(rows):
    """Least squares of the host's memory in use against the farm's clone processes (serving and held)."""
    points = [(r["serving_processes"] + r["held_processes"], r["host_used_mib"]) for r in rows]
    if len(points) < 5:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    syy = sum((y - mean_y) ** 2 for _, y in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    if sxx == 0 or syy == 0:
        return None
    return sxy / sxx, sxy * sxy / sxx / syy


def report(args, result, watch, count, probe, port, spec, started_at):
    start_ns, done, sampler = result["start_ns"], result["done"], result["sampler"]
    rows = sampler.rows
    probes = []
    with open(spec["out"]) as f:
        for line in f:
            index, first_tx, last_tx, answered_tx, rx, attempts = map(int, line.split())
            probes.append((index, first_tx, answered_tx, rx, attempts, last_tx))
    answered = [p for p in probes if p[3]]
    latencies = [(p[3] - p[2]) / 1e6 for p in answered]
    first_pass = [p for p in answered if p[4] == 1]
    retried = [p for p in answered if p[4] > 1]
    probed = [p for p in probes if p[1]]
    last_probe = max((p[5] for p in probed), default=start_ns)
    last_reply = max((p[3] for p in answered), default=start_ns)
    first_pass_seconds = (max((p[1] for p in probed), default=start_ns) - start_ns) / 1e9
    first_pass_rate = len(probed) / max(first_pass_seconds, 1e-9)
    # Per sample: the probes sent since the one before and their latencies, the replies that came meanwhile.
    sends = sorted(p[1] for p in probes if p[1])
    by_send = sorted((p[2], (p[3] - p[2]) / 1e6) for p in answered)
    send_times = [t for t, _ in by_send]
    arrivals = sorted(p[3] for p in answered)
    previous_ns = None
    for row in rows:
        row_ns = start_ns + int(row["t_s"] * 1e9)
        row["probes_sent"] = bisect.bisect_right(sends, row_ns)
        row["answered"] = bisect.bisect_right(arrivals, row_ns)
        low = 0 if previous_ns is None else bisect.bisect_right(send_times, previous_ns)
        values = [latency for _, latency in by_send[low:bisect.bisect_right(send_times, row_ns)]]
        row["replies_in_second"] = row["answered"] - (0 if previous_ns is None else bisect.bisect_right(arrivals, previous_ns))
        row["latency_p50_ms"] = round(percentile(values, 50), 3) if values else ""
        row["latency_p99_ms"] = round(percentile(values, 99), 3) if values else ""
        row["latency_max_ms"] = round(max(values), 3) if values else ""
        previous_ns = row_ns
    counters = stopped_counters(watch.lines)
    peak_row = max(rows, key=lambda r: r["serving_processes"]) if rows else {}
    pss_rows = [r for r in rows if r.get("pss_per_serving_clone_mib") not in (None, "") and r["serving_processes"] >= 10]
    pss_weighted = (sum(r["pss_serving_mib"] for r in pss_rows) / sum(r["serving_processes"] for r in pss_rows)
                    if pss_rows else None)
    peak_pss_row = max(pss_rows, key=lambda r: r["serving_processes"]) if pss_rows else None
    scan_seconds = (last_probe - start_ns) / 1e9
    to_last_reply = (last_reply - start_ns) / 1e9
    samples = sampler.sample_seconds

    print()
    print("scan16 (%s): 10.0.0.0/%d, %d addresses to probe (%s), rate %g/s, idle_timeout %d s, budget %d, ready %d" % (
        started_at, args.prefix, count, "ICMP echo" if probe == "icmp" else "TCP SYN to port %d" % port, args.rate,
        args.idle_timeout, args.budget, args.ready))
    print("answered: %d of %d (%.2f %%)  first pass %d, after a retry %d, no answer %d%s; %d probes sent in %d pass(es)%s" % (
        len(answered), count, 100 * len(answered) / max(count, 1), len(first_pass), len(retried),
        len(probed) - len(answered), ", not probed %d" % (count - len(probed)) if len(probed) < count else "",
        done["sent"], done["passes"], ", stopped at the time bound" if done["stopped_early"] else ""))
    print("duration: first pass %.1f s (%.0f probes/s sent), last probe at %.1f s, last reply at %.1f s; "
          "%.0f addresses answered a second over the scan" % (
              first_pass_seconds, first_pass_rate, scan_seconds, to_last_reply,
              len(answered) / max(to_last_reply, 1e-9)))
    if latencies:
        print("first packet -> reply: p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.1f ms  (Potemkin 521 ms)" % (
            percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99), max(latencies)))
    print("live clones: peak %d (farm events; peak serving processes %d at t=%.0f s, %d held beside them); "
          "budget %d" % (watch.peak, peak_row.get("serving_processes", 0), peak_row.get("t_s", 0),
                         peak_row.get("held_processes", 0), args.budget))
    if pss_rows:
        print("PSS per live clone: %.3f MiB on average over %d samples (serving processes' PSS / their count), "
              "%.3f MiB at the peak (%d serving, %.1f MiB in all)  (target < 1.5 MiB; Potemkin ~0.85 MB)" % (
                  pss_weighted, len(pss_rows), peak_pss_row["pss_per_serving_clone_mib"],
                  peak_pss_row["serving_processes"], peak_pss_row["pss_serving_mib"]))
        print("  beside them: held clones %.1f MiB PSS at that sample, the farm process %.1f MiB" % (
            peak_pss_row["pss_held_mib"], peak_pss_row["pss_farm_mib"]))
    slope = host_memory_slope(rows)
    if slope:
        print("host memory per clone process: %.2f MiB (the slope of MemTotal - MemAvailable against the clone processes "
              "over the samples, r^2 %.2f; KVM's and the kernel's part included, and whatever else the host did)" % slope)
    busy = [r for r in rows if "farm_cpu_pct" in r and r["t_s"] <= scan_seconds]
    if busy:
        print("CPU during the scan (%% of one core, mean): farm %.0f %%, its clones %.0f %%; host %.0f %% of both cores" % (
            sum(r["farm_cpu_pct"] for r in busy) / len(busy), sum(r["clones_cpu_pct"] for r in busy) / len(busy),
            sum(r["host_cpu_pct"] for r in busy) / len(busy)))
    with watch.lock:
        counts = dict(watch.counts)
    bound = counts.get("bound", 0)
    if bound:
        farm_cpu = (sampler.farm_ticks_end[0] - sampler.farm_ticks_start[0]) / CLOCK_TICK
        clones_cpu = (sampler.farm_ticks_end[1] - sampler.farm_ticks_start[1]) / CLOCK_TICK
        print("CPU per address answered: %.1f ms of the clone's (restore, serving, teardown: the reaped clones' CPU "
              "over the run / clones bound) + %.2f ms of the farm's; at that cost 2 cores would bind about %.0f "
              "addresses a second" % (1000 * clones_cpu / bound, 1000 * farm_cpu / bound,
                                       2 * bound / max(clones_cpu + farm_cpu, 1e-9)))
    print("farm events: %s" % ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    failures = {}
    for line in watch.lines:
        if '"clone_failed"' in line or '"clone_exited"' in line:
            event = json.loads(line)
            reason = event.get("error") or "exit %s signal %s" % (event.get("exit_code"), event.get("signal"))
            failures[reason] = failures.get(reason, 0) + 1
    for reason, times in sorted(failures.items(), key=lambda kv: -kv[1]):
        print("  clone failures: %d x %s" % (times, reason))
    if counters:
        print("farm counters: bound %s, reclaimed %s, evicted %s, no_clone_ready %s, send_failures %s, "
              "clone_failures %s, breaches %s, refused %s" % (
                  counters.get("bound"), counters.get("reclaimed"), counters.get("evicted"),
                  counters.get("no_clone_ready"), counters.get("send_failures"), counters.get("clone_failures"),
                  counters.get("breaches"), counters.get("refused")))
    if samples:
        print("sampling: %d samples, each took p50 %.0f ms, max %.0f ms (reading /proc)" % (
            len(samples), 1000 * percentile(samples, 50), 1000 * max(samples)))
    print("anchors: Potemkin (SOSP '05) 521 ms first packet -> reply, ~0.85 MB per clone, >64,000 addresses on a "
          "handful of servers; Honeyd ~2,000 TCP transactions/s")
    if count < 65536 and first_pass_rate > 0:
        print("a full /16 at this pace: about %.0f s of probing (%.1f min), plus the retries and %.0f s of tail" % (
            65536 / first_pass_rate, 65536 / first_pass_rate / 60, args.timeout + args.idle_timeout + 3))

    if args.csv:
        columns = ["t_s", "probes_sent", "answered", "replies_in_second", "live_clones", "serving_processes",
                   "held_processes", "dying_processes", "latency_p50_ms", "latency_p99_ms", "latency_max_ms",
                   "pss_serving_mib", "pss_per_serving_clone_mib", "pss_sampled", "pss_held_mib", "pss_farm_mib", "host_used_mib",
                   "farm_cpu_pct", "clones_cpu_pct", "host_cpu_pct"]
        with open(args.csv, "w") as f:
            f.write(",".join(columns) + "\n")
            for row in rows:
                f.write(",".join(str(row.get(c, "")) for c in columns) + "\n")
        print("series: %s" % args.csv)
    if args.plot:
        title = "vmhive farm: a scan of %d addresses of 10.0.0.0/%d, one %s each" % (
            count, args.prefix, "ICMP echo" if probe == "icmp" else "TCP SYN")
        subtitle = "%s; %g probes/s, idle_timeout %d s, %d of %d answered; peak %d live clones" % (
            started_at, args.rate, args.idle_timeout, len(answered), count, watch.peak)
        if pss_rows:
            subtitle += ", %.2f MiB PSS each" % pss_weighted
        write_svg(args.plot, rows, title, subtitle, last_probe_s=scan_seconds)
        print("plot: %s" % args.plot)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("scan16: interrupted; the farm, its clones and the namespace are gone")
