"""What the SFU benchmarks share (bench/sfu.py, bench/meeting.py): their child processes
(the line protocol of bench/sfu_load.py and bench/sfu_server.py), the server's CPU and
run-queue time from /proc, and one measurement window over a set of subscriber processes."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYTHON = sys.executable
TICK = os.sysconf("SC_CLK_TCK")

# Above this share of the window spent runnable but waiting for a CPU, the 2-core box (load
# generators included) set the pace, not the server: the line says saturated=1.
SATURATED_WAIT = 0.15


@dataclass
class Result:
    cpu_s: float
    wait_s: float  # time the server's threads were runnable but waiting for a CPU
    seconds: float
    received: int
    expected: int
    latency: dict[str, list[float]]
    load_cpu_s: dict[str, float] = field(default_factory=dict)  # load generators' CPU, by group
    load_wait_s: dict[str, float] = field(default_factory=dict)  # ... and their wait for a CPU
    core_busy_s: float = 0.0  # the server's own CPUs busy over the window, whoever ran there
    user_stamped: int = 0  # packets timed on arrival by the load process, not the kernel
    # the slowest subscriber process's p99 from the kernel's arrival to its reading a packet:
    # how far behind the load generator ran (what it reads in the window arrived that long before)
    reader_lag_p99_ms: float = 0.0

    @property
    def cpu_per_packet_us(self) -> float:
        return self.cpu_s / max(1, self.received) * 1e6

    @property
    def loss(self) -> float:
        return max(0.0, 1 - self.received / max(1, self.expected))

    def percentile(self, kind: str | None, q: float) -> float:
        values = sorted((self.latency["audio"] + self.latency["video"]) if kind is None
                        else self.latency[kind])
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q / 100 * len(values)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def raise_priority(pid: int, nice: int) -> None:
    """Run ``pid`` at ``-nice``: its scheduler autogroup (every child here starts its own
    session, so each gets its own group) and every thread (nice is per thread).

    This box is shared with other engineers' test runs and the kernel groups CPU time by
    session (autogroup): without this a single-threaded server gets a fraction of a core,
    not the core it needs, and latency measures the neighbours. Janus gets the same
    treatment. A thread that runs nicer than the main thread on purpose (the SFU's recognition
    threads) keeps that distance. Needs root; skipped (and said) otherwise."""
    if nice <= 0:
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(-nice))
        main = os.getpriority(os.PRIO_PROCESS, pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            below = max(0, os.getpriority(os.PRIO_PROCESS, int(task.name)) - main)
            os.setpriority(os.PRIO_PROCESS, int(task.name), min(19, -nice + below))
    except OSError as error:
        print(f"  (could not raise priority of {pid}: {error})", file=sys.stderr)


def busy_seconds(cpus: set[int]) -> float:
    """Time ``cpus`` were busy (not idle or waiting for I/O), from /proc/stat: beside the
    server's own CPU time it shows what else ran on its core."""
    total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(x) for x in fields[:8]]
            total += sum(ticks) - ticks[3] - ticks[4]  # minus idle and iowait
    return total / TICK


def dedicate(pid: int) -> bool:
    """Run every thread of ``pid`` (bound to its own CPU: :func:`split_cpus`) at the lowest
    real-time priority, so that nothing else of this shared box runs on that CPU while the
    server has work: what a dedicated server gives it. The kernel still leaves others 5 % of
    each second (sched_rt_runtime_us). Needs root; False (and said) otherwise."""
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setscheduler(int(task.name), os.SCHED_FIFO, os.sched_param(1))
    except OSError as error:
        print(f"  (could not give {pid} a real-time priority: {error})", file=sys.stderr)
        return False
    return True


def runqueue_wait_seconds(pid: int) -> float:
    """Summed over the process's threads: time spent runnable but not running
    (/proc/PID/task/TID/schedstat, second field, ns). High means the box, not the server,
    set the pace."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total / 1e9


def split_cpus() -> tuple[set[int], set[int]]:
    """The server's CPU and the load generators' CPUs: the last CPU for the server alone,
    the others for everything else, as a dedicated server runs (a province's SFU does not
    share its core with sixty meeting points). One CPU: both share it."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus)
    return {cpus[-1]}, set(cpus[:-1])


class Process:
    """A child speaking the line protocol of bench/sfu_load.py / bench/sfu_server.py,
    optionally bound to ``cpus`` from its start (its threads inherit the binding)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None,
                 cpus: set[int] | None = None) -> None:
        bind = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        self.popen = subprocess.Popen([PYTHON, *args], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, bufsize=1,
                                      start_new_session=True, env=env, preexec_fn=bind)

    def line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"no answer from {self.popen.args[1]}")
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.popen.args[1]} exited ({self.popen.wait()})")
        return line.strip()

    def send(self, command: str) -> None:
        self.popen.stdin.write(command + "\n")
        self.popen.stdin.flush()

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                self.popen.stdin.close()
                self.popen.wait(15)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.popen.kill()
                self.popen.wait()

def start_subscribers(load: str, specs: list[dict[str, Any]], nice: int, label: str,
                      timeout: float = 300,
                      cpus: set[int] | None = None) -> tuple[list[Process], int]:
    """One subscriber process per spec (role ``subscribe`` of bench/sfu_load.py), at
    ``-nice``, each waited for until it says it receives everything. Returns the processes
    and how many of them receive only part (each also warned about)."""
    processes: list[Process] = []
    partial = 0
    try:
        for spec in specs:
            process = Process([load, json.dumps({"role": "subscribe", **spec})], cpus=cpus)
            processes.append(process)
            raise_priority(process.popen.pid, nice)
        for process in processes:
            status = process.line(timeout)
            if status != "ready":
                partial += 1
                print(f"  warning ({label}): subscribers {status}", file=sys.stderr)
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes, partial


def measure_window(server_pid: int, subscribers: list[Process], seconds: float,
                   load: dict[str, list[int]] | None = None,
                   server_cpus: set[int] | None = None) -> Result:
    """Count for ``seconds`` in every subscriber; the server's CPU and wait over that window,
    the CPU of each group of ``load`` processes (the load generators) and how busy
    ``server_cpus`` were."""
    def load_cpu() -> dict[str, float]:
        return {group: sum(map(cpu_seconds, pids)) for group, pids in (load or {}).items()}

    def load_wait() -> dict[str, float]:
        return {group: sum(map(runqueue_wait_seconds, pids)) for group, pids in (load or {}).items()}

    cpu0, wait0, t0 = cpu_seconds(server_pid), runqueue_wait_seconds(server_pid), time.monotonic()
    load0, wait_load0, busy0 = load_cpu(), load_wait(), busy_seconds(server_cpus or set())
    for process in subscribers:
        process.send("start")
    time.sleep(seconds)
    for process in subscribers:
        process.send("stop")
    cpu1, wait1, t1 = cpu_seconds(server_pid), runqueue_wait_seconds(server_pid), time.monotonic()
    load1, wait_load1, busy1 = load_cpu(), load_wait(), busy_seconds(server_cpus or set())
    results = [json.loads(process.line(120)) for process in subscribers]
    return Result(cpu_s=cpu1 - cpu0, wait_s=wait1 - wait0, seconds=t1 - t0,
                  load_cpu_s={group: load1[group] - load0[group] for group in load1},
                  load_wait_s={group: wait_load1[group] - wait_load0[group] for group in wait_load1},
                  core_busy_s=busy1 - busy0,
                  user_stamped=sum(r.get("user_stamped", 0) for r in results),
                  reader_lag_p99_ms=max((r.get("reader_lag_p99_ms", 0.0) for r in results),
                                        default=0.0),
                  received=sum(r["received"] for r in results),
                  expected=sum(r["expected"] for r in results),
                  latency={k: [x for r in results for x in r["latency"][k]]
                           for k in ("audio", "video")})
