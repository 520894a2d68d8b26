"""Shared helpers of tools/bench-box and tools/main: a testbed of real akrpd boxes (through tools/testbed),
their state dumps, `akrpctl load` runs with their CPU time, and per-process CPU and memory from /proc.

Python standard library only. Nothing here prints numbers it did not measure.
"""

import json
import os
import shlex
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTBED = os.path.join(ROOT, "tools", "testbed")
AUDIT = os.path.join(ROOT, "tools", "audit-check")
TICK = os.sysconf("SC_CLK_TCK")


class Failed(Exception):
    pass


def quote(args):
    return " ".join(shlex.quote(str(a)) for a in args)


def binary(name, env_name=None, builds=("release",)):
    """The akrpd/akrpctl/akrp-sim to use: $AKRPD etc., else .build/release/NAME."""
    value = os.environ.get(env_name or name.upper().replace("-", "_"))
    if value:
        return os.path.abspath(value)
    for build in builds:
        path = os.path.join(ROOT, ".build", build, name)
        if os.access(path, os.X_OK):
            return path
    raise Failed("%s not built (swift build -c release --product %s, or set $%s)"
                 % (name, name, env_name or name.upper().replace("-", "_")))


def run(args, check=True, timeout=600, env=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise Failed("%s exited %d:\n%s%s" % (quote(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    return p


def git_revision():
    try:
        rev = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", "Sources", "Package.swift"],
                    check=False).stdout.strip()
        return rev + ("+dirty(Sources)" if dirty else "")
    except (Failed, OSError):
        return "unknown"


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def namespaces_in_use():
    p = run(["ip", "netns", "list"], check=False)
    if p.returncode != 0:
        return None
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def choose_mode(requested):
    """('netns'|'loopback', why). auto: namespaces when root and no namespace exists (others may use them)."""
    if requested == "loopback":
        return "loopback", "--mode loopback"
    if os.geteuid() != 0:
        if requested == "netns":
            raise Failed("--mode netns needs root")
        return "loopback", "not root"
    present = namespaces_in_use()
    if present is None:
        if requested == "netns":
            raise Failed("--mode netns: `ip netns list` fails")
        return "loopback", "`ip netns` does not work"
    if present:
        if requested == "netns":
            raise Failed("--mode netns: namespaces exist (%s); another testbed runs" % ", ".join(present[:4]))
        return "loopback", "network namespaces in use by someone else (%s)" % ", ".join(present[:3])
    return "netns", "root and no network namespace in use"


# --- /proc ------------------------------------------------------------------------------------------


def cpu_seconds(pid):
    """User + system CPU seconds of a process (all its threads), or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def io_calls(pid):
    """(read-like, write-like) system calls of a process so far, from /proc/PID/io (syscr, syscw), or None."""
    try:
        with open("/proc/%d/io" % pid) as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["syscr"]), int(fields["syscw"])
    except (OSError, KeyError, ValueError):
        return None


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def system_cpu():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


# --- the testbed ------------------------------------------------------------------------------------


class Bed:
    """A tools/testbed network brought up in `directory`."""

    def __init__(self, directory, topology, mode, port_base, akrpd, akrpctl, rate=None, extra_conf=None,
                 options=(), log=print):
        self.dir = os.path.abspath(directory)
        self.topology = topology
        self.mode = mode
        self.akrpd = akrpd
        self.akrpctl = akrpctl
        self.log = log
        run([TESTBED, "down", "--dir", self.dir], check=False)
        self.up_command = [TESTBED, "up", topology, "--dir", self.dir, "--akrpd", akrpd]
        if rate:
            self.up_command += ["--rate", str(int(rate))]
        if mode == "loopback":
            self.up_command += ["--loopback", "--port-base", str(port_base)]
        if extra_conf:
            os.makedirs(self.dir, exist_ok=True)
            path = self.dir + ".extra.conf"
            with open(path, "w") as f:
                f.write(extra_conf)
            self.up_command += ["--config-extra", path]
        self.up_command += list(options)
        env = dict(os.environ, AKRPCTL=akrpctl)
        run(self.up_command, timeout=180, env=env)
        with open(os.path.join(self.dir, "testbed.json")) as f:
            self.state = json.load(f)
        self.nodes = sorted(int(n) for n in self.state["boxes"])

    def socket(self, node):
        return os.path.join(self.dir, "n%d" % node, "control.sock")

    def pid(self, node):
        with open(os.path.join(self.dir, "testbed.json")) as f:
            state = json.load(f)
        return state["boxes"][str(node)]["process"]["pid"]

    def proxy_pids(self):
        out = {}
        for record in self.state["links"]:
            proxy = record.get("proxy")
            if proxy and proxy.get("process"):
                out["%d-%d" % (record["a"], record["b"])] = proxy["process"]["pid"]
        return out

    def dump(self, node):
        p = run([self.akrpctl, "dump", "--json", "--socket", self.socket(node)], timeout=30)
        return json.loads(p.stdout)

    def dumps(self):
        return {n: self.dump(n) for n in self.nodes}

    def wait_links_up(self, deadline=90):
        end = time.time() + deadline
        pending = []
        while time.time() < end:
            pending = []
            for n in self.nodes:
                try:
                    doc = self.dump(n)
                except (Failed, json.JSONDecodeError, subprocess.TimeoutExpired):
                    pending.append("n%d: no answer" % n)
                    continue
                pending += ["n%d link %s" % (n, l["link"]) for l in doc["links"] if not (l["up"] and l["connected"])]
            if not pending:
                return
            time.sleep(0.5)
        raise Failed("links not up after %d s: %s (logs in %s)" % (deadline, pending, self.dir))

    def load_command(self, src, dst, requests, concurrency, duration=0, timeout=30, bits=256):
        args = [self.akrpctl, "load", "--socket", self.socket(src), "--to", str(dst), "--fetch-socket",
                self.socket(dst), "--requests", str(requests), "--concurrency", str(concurrency), "--bits", str(bits),
                "--json", "--timeout", str(timeout)]
        if duration:
            args += ["--duration", str(duration)]
        return args

    def start_load(self, src, dst, requests, concurrency, duration=0, timeout=30, bits=256):
        return LoadRun(self, src, dst, self.load_command(src, dst, requests, concurrency, duration, timeout, bits))

    def audit(self):
        p = run([AUDIT, "--json", self.dir], check=False, timeout=3600)
        try:
            report = json.loads(p.stdout)
        except json.JSONDecodeError:
            report = None
        return p.returncode, report, p.stdout[-3000:] + p.stderr[-2000:]

    def audit_bytes(self):
        total = 0
        for n in self.nodes:
            d = os.path.join(self.dir, "n%d" % n, "state")
            for name in os.listdir(d) if os.path.isdir(d) else []:
                if name.startswith("audit.log"):
                    total += os.path.getsize(os.path.join(d, name))
        return total

    def down(self):
        run([TESTBED, "down", "--dir", self.dir], check=False, timeout=120)


class LoadRun:
    """One `akrpctl load` process; `finish()` returns its JSON result with its own CPU seconds."""

    def __init__(self, bed, src, dst, args):
        self.src, self.dst, self.args = src, dst, args
        self.label = "%d→%d" % (src, dst)
        base = os.path.join(bed.dir, "load-%d-%d-%d" % (src, dst, time.time_ns()))
        self.out_path, self.err_path = base + ".json", base + ".err"
        self.out = open(self.out_path, "w+")
        self.err = open(self.err_path, "w+")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=self.err, text=True)
        self.cpu = None
        self.result = None

    def _reap(self):
        """Waits for the process without blocking (os.wait4, for its CPU time); True once it has ended."""
        if self.cpu is not None:
            return True
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if not pid:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        self.seconds = time.monotonic() - self.started
        return True

    def poll(self):
        """None while running, else the exit status (never reaps through Popen: the CPU time would be lost)."""
        return self.proc.returncode if self._reap() else None

    def finish(self, timeout=3600):
        deadline = time.monotonic() + timeout
        while not self._reap():
            if time.monotonic() > deadline:
                self.proc.kill()
                raise Failed("load %s hung (no end within %d s): %s" % (self.label, timeout, quote(self.args)))
            time.sleep(0.05)
        self.out.seek(0)
        self.err.seek(0)
        text, err = self.out.read(), self.err.read()
        try:
            self.result = json.loads(text.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            raise Failed("load %s: no result (exit %d): %s" % (self.label, self.proc.returncode, err[-1000:]))
        self.result["exit_status"] = self.proc.returncode
        self.result["akrpctl_cpu_seconds"] = round(self.cpu, 3)
        return self.result


def problems_of(result):
    """Why a load result is not acceptable for keys (differences, missing keys, non-zero exit)."""
    out = []
    if result.get("mismatches", 0):
        out.append("%d keys differ at the two ends" % result["mismatches"])
    if result.get("missing_at_destination", 0):
        out.append("%d delivered keys missing at the destination" % result["missing_at_destination"])
    if result.get("exit_status", 0) != 0:
        out.append("akrpctl load exited %d" % result["exit_status"])
    if result.get("delivered", 0) != result.get("verified", result.get("delivered", 0)):
        out.append("%d delivered but %d verified" % (result["delivered"], result.get("verified", 0)))
    return out


# --- dump arithmetic --------------------------------------------------------------------------------


def link_view(dumps):
    """Per link 'A-B': the low end's pool and frame counters plus both ends' pool levels."""
    links = {}
    for node, doc in dumps.items():
        for l in doc["links"]:
            entry = links.setdefault(l["link"], {"ends": {}})
            entry["ends"][node] = l
    return links


def totals(dumps):
    """Counters summed over boxes and links, for deltas: frames, authentication units, units consumed."""
    t = {"frames_sent": 0, "bytes_sent": 0, "auth_units_sent": 0, "engine_messages_sent": 0, "units_consumed_pool": 0,
         "units_discarded_pool": 0, "keys_delivered_as_source": 0, "keys_delivered_as_destination": 0,
         "requests_failed": 0, "reroutes": 0, "branches_launched": 0, "conflicts_resolved": 0, "units_substituted": 0,
         "units_yielded": 0, "request_units_consumed": 0, "frames_forged": 0, "frames_dropped": 0,
         "messages_dropped": 0, "stale_reconnects": 0, "disconnects": 0}
    per_link = {}
    for node, doc in dumps.items():
        e = doc["engine"]
        t["engine_messages_sent"] += e["messages_sent"]
        t["keys_delivered_as_source"] += e["keys_delivered_as_source"]
        t["keys_delivered_as_destination"] += e["keys_delivered_as_destination"]
        t["requests_failed"] += e["requests_failed"]
        for k in ("reroutes", "branches_launched", "conflicts_resolved", "units_substituted", "units_yielded"):
            t[k] += e.get(k, 0)
        for l in doc["links"]:
            f = l["frames"]
            t["frames_sent"] += f["sent"]
            t["bytes_sent"] += f["bytes_sent"]
            t["auth_units_sent"] += f["authentication_units_sent"]
            t["frames_forged"] += f["forged"]
            t["frames_dropped"] += f["dropped"]
            t["messages_dropped"] += f["messages_dropped"]
            t["stale_reconnects"] += l["connection"].get("stale_reconnects", 0)
            t["disconnects"] += l["connection"]["disconnects"]
            low = int(l["link"].split("-")[0])
            if node == low:
                # Consumed at the low end = request units + authentication units of both directions.
                pool = l["pool"]
                request_units = pool["consumed_units"] - f["authentication_units_sent"] - f["authentication_units_received"]
                t["units_consumed_pool"] += pool["consumed_units"]
                t["units_discarded_pool"] += pool["discarded_units"]
                t["request_units_consumed"] += request_units
                per_link[l["link"]] = {
                    "consumed_units": pool["consumed_units"],
                    "request_units": request_units,
                    "auth_units": f["authentication_units_sent"] + f["authentication_units_received"],
                    "discarded_units": pool["discarded_units"],
                    "delivered_units": pool["delivered_units"],
                }
    t["per_link"] = per_link
    return t


def delta(after, before):
    out = {}
    for k, v in after.items():
        if k == "per_link":
            out[k] = {link: {f: v[link][f] - before["per_link"].get(link, {}).get(f, 0) for f in v[link]} for link in v}
        else:
            out[k] = v - before.get(k, 0)
    return out


class CpuWatch:
    """CPU seconds of named processes and of the whole machine between start() and stop()."""

    def __init__(self, pids):
        self.pids = dict(pids)

    def start(self):
        self.t0 = time.monotonic()
        self.cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.io0 = {name: io_calls(pid) for name, pid in self.pids.items()}
        self.sys0 = system_cpu()
        return self

    def stop(self):
        wall = time.monotonic() - self.t0
        cpu1 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        io1 = {name: io_calls(pid) for name, pid in self.pids.items()}
        sys1 = system_cpu()
        calls = {}
        for name in self.pids:
            if self.io0[name] and io1[name]:
                calls[name] = {"read_calls": io1[name][0] - self.io0[name][0],
                               "write_calls": io1[name][1] - self.io0[name][1]}
        per = {}
        for name in self.pids:
            if self.cpu0[name] is None or cpu1[name] is None:
                per[name] = None
            else:
                per[name] = round(cpu1[name] - self.cpu0[name], 3)
        busy = (sys1[0] - self.sys0[0]) / TICK
        total = (sys1[1] - self.sys0[1]) / TICK
        return {"wall_seconds": round(wall, 3), "cpu_seconds": per, "syscalls": calls,
                "machine_busy_cores": round(busy / wall, 2) if wall > 0 else None,
                "machine_cores": os.cpu_count(), "machine_busy_fraction": round(busy / total, 3) if total else None}


class Sampler(threading.Thread):
    """Calls fn() every `interval` seconds in the background; keeps what it returns."""

    def __init__(self, interval, fn):
        super().__init__(daemon=True)
        self.interval, self.fn = interval, fn
        self.samples = []
        self.errors = []
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.samples.append(self.fn())
            except Exception as e:  # a dump that fails once is recorded, not fatal
                self.errors.append("%s: %s" % (time.strftime("%H:%M:%S"), e))
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join(timeout=30)


def percent(a, b):
    return round(100.0 * (a - b) / b, 2) if b else None
