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
from dataclasses import dataclass
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
    treatment. Needs root; skipped (and said) otherwise."""
    if nice <= 0:
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(-nice))
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.setpriority(os.PRIO_PROCESS, int(task.name), -nice)
    except OSError as error:
        print(f"  (could not raise priority of {pid}: {error})", file=sys.stderr)


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


class Process:
    """A child speaking the line protocol of bench/sfu_load.py / bench/sfu_server.py."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen([PYTHON, *args], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, bufsize=1,
                                      start_new_session=True, env=env)

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
                      timeout: float = 300) -> tuple[list[Process], int]:
    """One subscriber process per spec (role ``subscribe`` of bench/sfu_load.py), at
    ``-nice``, each waited for until it says it receives everything. Returns the processes
    and how many of them receive only part (each also warned about)."""
    processes: list[Process] = []
    partial = 0
    try:
        for spec in specs:
            process = Process([load, json.dumps({"role": "subscribe", **spec})])
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


def measure_window(server_pid: int, subscribers: list[Process], seconds: float) -> Result:
    """Count for ``seconds`` in every subscriber; the server's CPU and wait over that window."""
    cpu0, wait0, t0 = cpu_seconds(server_pid), runqueue_wait_seconds(server_pid), time.monotonic()
    for process in subscribers:
        process.send("start")
    time.sleep(seconds)
    for process in subscribers:
        process.send("stop")
    cpu1, wait1, t1 = cpu_seconds(server_pid), runqueue_wait_seconds(server_pid), time.monotonic()
    results = [json.loads(process.line(120)) for process in subscribers]
    return Result(cpu_s=cpu1 - cpu0, wait_s=wait1 - wait0, seconds=t1 - t0,
                  received=sum(r["received"] for r in results),
                  expected=sum(r["expected"] for r in results),
                  latency={k: [x for r in results for x in r["latency"][k]]
                           for k in ("audio", "video")})
