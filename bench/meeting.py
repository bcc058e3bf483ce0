"""A province meeting through the SFU: P points, each publishing audio and two camera layers
and each receiving what a large meeting's screen receives (the speaker's high layer, four
thumbnails' low layers, the three loudest microphones), for P = 20, 60 and 120; then, as the
baseline, the same meeting with everyone subscribing to every other point's audio and high
layer (capped where this 2-core box saturates).

    .venv/bin/python bench/meeting.py        # P = 20, 60, 120; baseline at P = 10, 20
    .venv/bin/python bench/meeting.py --points 20,60 --baseline 20 --seconds 5

Processes as in bench/sfu.py (helpers in bench/processes.py): the SFU alone in its process
(bench/sfu_server.py), publishers (pre-encoded VP8 960x540 at 1.5 Mbit/s + 320x180 at
150 kbit/s + Opus, replayed, no encoder; point 0 speaks; each point's microphone and camera on
a clock of its own) and subscribers (count and timestamp, decode nothing, read straight from
the socket from the moment each connection is up) in others. Publishers follow the SFU's layer
demand as browsers follow media:layer: a camera layer nobody receives is not sent. A point's
publisher and subscriber share one SFU peer, so it never receives itself.

The SFU gets a core of its own, as on a province's server: it is bound to the last CPU at the
lowest real-time priority (nothing else of this shared box runs there while it has work; the
kernel still leaves others 5 %), the load generators and this process to the other CPUs
(``--shared-core``: leave it all to the scheduler). Latency is the publisher's send time (in
the payload) to the kernel's arrival time at the subscriber's socket (SO_TIMESTAMPNS), so a
load process that waits for a CPU does not add to it; its sockets hold 4 MiB, so neither does
it lose what the SFU sent.

One line per size: ``meeting points=P sfu_core_pct=.. forwarded_pkts_per_s=..
lat_p50_ms=.. lat_p99_ms=.. loss=.. fds=.. mode=slots ...``, then what explains the figures:
``speaker_high`` (subscribers getting the speaker's high layer, of all: the SFU drops a link
that looks weak to low, which lightens the load), ``high_sent`` (publishers whose high layer
anyone receives: 1 on slots, the speaker; where everyone subscribes, a publisher the SFU judged
weak sends only its low layer, which lightens the load too), ``user_stamped`` (packets in the
window without a kernel arrival time; 0: every local socket is read by the light reader),
``reader_lag_p99_ms`` (kernel arrival -> read by the slowest subscriber process: how far
behind the generators ran; ``forwarded_pkts_per_s`` counts what the subscribers read in the
window, so generators short of a CPU, publishers sending late or subscribers reading late,
lower it: on slots a full meeting is ~430 packets/s per subscriber), the SFU's longest
event-loop hold-up and garbage-collector pause in the window, its wait for a CPU
(``runq_wait_pct``, schedstat; ``saturated=1`` above 15 %: the box, not the SFU, set the pace),
how busy its core was with other work, the generators' CPU and their wait for a CPU (summed
over their processes, in % of one core) and the load average. Then the baseline's lines
(mode=all; sizes past the first that loses packets are skipped), the ratio of SFU CPU and
forwarded packets where both ran, how each grows with P, and ``uptime``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[0] = str(HERE.parent)  # the repository root, so that `bench` is importable

from bench import sfu_media  # noqa: E402
from bench.processes import (  # noqa: E402
    SATURATED_WAIT,
    Process,
    Result,
    dedicate,
    measure_window,
    raise_priority,
    split_cpus,
    start_subscribers,
)
from bench.sfu_janus import free_port  # noqa: E402

SLOTS = {"thumbnails": 4, "loudest": 3}
PUBLISHERS_PER_PROCESS = 30
SUBSCRIBERS_PER_PROCESS = 20
READY_TIMEOUT_S = 180  # for each subscriber process to receive every stream (120 points on 2 loaded cores)
SETTLE_S = 4.0  # key frames every 2 s in the loop (slots start on one); unneeded layers stop after 2 s


def get(url: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/{path}", timeout=30) as response:
        return json.load(response)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(first, min(size, total - first)) for first in range(0, total, size)]


@dataclass
class Run:
    result: Result
    fds: int  # the SFU's open descriptors
    partial: int  # subscriber processes that did not receive every stream before the window
    dedicated: bool  # the SFU had a core of its own at real-time priority
    speaker_layers: dict[str, int]  # subscribers by the speaker layer they got (slots)
    stalls: dict[str, float]  # the SFU's longest event-loop hold-up and GC pause in the window
    high_sent: int  # publishers whose high camera layer someone receives (the SFU's layer demand)


def measure(points: int, slots: bool, media: Path, low_media: Path, seconds: float,
            nice: int, dedicated_core: bool) -> Run:
    """One meeting. With ``dedicated_core`` the SFU runs on a CPU of its own (the load
    generators and this process on the others) at real-time priority from the moment the
    meeting is set up, as a province's server would: the figures are then the SFU's, not
    those of whatever else this shared box runs."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    load = str(HERE / "sfu_load.py")
    server_cpus, load_cpus = split_cpus() if dedicated_core else (None, None)
    server = Process([str(HERE / "sfu_server.py"), str(port)], cpus=server_cpus)
    children = [server]
    try:
        if server.line(60) != "ready":
            raise RuntimeError("SFU server not ready")
        # from the start: an SFU that falls behind while the meeting is set up drops the speaker's
        # packets at its socket, judges the speaker's uplink weak and sends everyone the low layer
        dedicated = dedicate(server.popen.pid) if dedicated_core else False
        publishers = []
        for first, count in chunks(points, PUBLISHERS_PER_PROCESS):
            process = Process([load, json.dumps({
                "role": "publish", "target": "sfu", "url": url, "count": count, "first": first,
                "prefix": "p", "media": str(media), "low_media": str(low_media)})], cpus=load_cpus)
            children.append(process)
            publishers.append(process)
        for process in publishers:
            if process.line(300) != "ready":
                raise RuntimeError("publishers not ready")
        print(f"  {points} publishers ready", file=sys.stderr, flush=True)
        raise_priority(server.popen.pid, nice)
        for process in publishers:
            raise_priority(process.popen.pid, nice)
        time.sleep(1.0)  # the speaker is detected (300 ms hold) before anyone subscribes
        subscribers, partial = start_subscribers(load, [
            {"target": "sfu", "url": url, "count": count, "first": first, "prefix": "p",
             "slots": SLOTS if slots else None, "ready_timeout": READY_TIMEOUT_S}
            for first, count in chunks(points, SUBSCRIBERS_PER_PROCESS)], nice, "sfu",
            cpus=load_cpus)
        children.extend(subscribers)
        print(f"  {points} subscribers ready", file=sys.stderr, flush=True)
        time.sleep(SETTLE_S)
        get(url, "stalls")  # (from here on)
        result = measure_window(server.popen.pid, subscribers, seconds,
                                {"publishers": [p.popen.pid for p in publishers],
                                 "subscribers": [p.popen.pid for p in subscribers]}, server_cpus)
        stalls = get(url, "stalls")
        high_sent = sum(1 for track, needed in get(url, "demand").items()
                        if needed and track.endswith(":1"))  # mid 1: the high camera layer
        return Run(result, open_descriptors(server.popen.pid), partial, dedicated,
                   get(url, "speaker_layers"), stalls, high_sent)
    finally:
        for child in reversed(children):
            child.stop()


def line(points: int, mode: str, run: Run) -> str:
    result = run.result
    return (f"meeting points={points} "
            f"sfu_core_pct={100 * result.cpu_s / result.seconds:.1f} "
            f"forwarded_pkts_per_s={result.received / result.seconds:.0f} "
            f"lat_p50_ms={result.percentile(None, 50):.2f} "
            f"lat_p99_ms={result.percentile(None, 99):.2f} loss={result.loss:.4f} fds={run.fds} "
            f"lat_p99_audio_ms={result.percentile('audio', 99):.2f} "
            f"lat_p99_video_ms={result.percentile('video', 99):.2f} "
            f"user_stamped={result.user_stamped} "
            f"reader_lag_p99_ms={result.reader_lag_p99_ms:.1f} "
            f"mode={mode} cpu_per_pkt_us={result.cpu_per_packet_us:.1f} "
            + (f"speaker_high={run.speaker_layers['high']}/{sum(run.speaker_layers.values())} "
               if mode == "slots" else "")
            + f"high_sent={run.high_sent}/{points} "
            f"loop_stall_max_ms={run.stalls['loop_stall_max_ms']:.1f} gc_max_ms={run.stalls['gc_max_ms']:.1f} "
            f"sfu_core={'own' if run.dedicated else 'shared'} "
            f"runq_wait_pct={100 * result.wait_s / result.seconds:.1f} "
            f"saturated={int(result.wait_s / result.seconds > SATURATED_WAIT)} "
            + (f"others_on_sfu_core_pct={100 * max(0.0, result.core_busy_s - result.cpu_s) / result.seconds:.1f} "
               if run.dedicated else "")
            + "".join(f"{group}_core_pct={100 * cpu / result.seconds:.1f} "
                      f"{group}_runq_wait_pct={100 * result.load_wait_s[group] / result.seconds:.1f} "
                      for group, cpu in result.load_cpu_s.items())
            + f"loadavg={os.getloadavg()[0]:.1f}"
            + (f" partial={run.partial} (subscriber processes not receiving everything: not comparable)"
               if run.partial else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", default="20,60,120", help="meeting sizes (slots)")
    parser.add_argument("--baseline", default="10,20",
                        help="sizes for everyone-subscribes-to-everything (it grows with P²; "
                             "sizes past the first that loses packets are skipped)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measurement window")
    parser.add_argument("--nice", type=int, default=10,
                        help="run the SFU and load generators at nice -N (0: leave alone)")
    parser.add_argument("--shared-core", action="store_true",
                        help="leave the SFU to the scheduler among everything else (default: a "
                             "core of its own at real-time priority, the generators on the others)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.points.split(",") if x]
    baseline = [int(x) for x in args.baseline.split(",") if x]
    dedicated = not args.shared_core
    if dedicated:
        os.sched_setaffinity(0, split_cpus()[1])  # this process too stays off the server's CPU
    print(f"… uptime: {uptime()}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-meeting-") as tmp:
        media, low_media = Path(tmp) / "high.pickle", Path(tmp) / "low.pickle"
        print("… encoding the media loops", file=sys.stderr, flush=True)
        sfu_media.save(sfu_media.make(), media)
        sfu_media.save(sfu_media.make(320, 180, 150_000), low_media)
        ours: dict[int, Run] = {}
        theirs: dict[int, Run] = {}
        for points in sizes:
            print(f"… {points} points, slots", file=sys.stderr, flush=True)
            ours[points] = measure(points, True, media, low_media, args.seconds, args.nice, dedicated)
            print(line(points, "slots", ours[points]), flush=True)
        saturated_at = None
        for points in baseline:
            if saturated_at is not None:
                print(f"meeting points={points} mode=all skipped=1 (the box no longer delivered "
                      f"the load at points={saturated_at})", flush=True)
                continue
            print(f"… {points} points, everyone subscribes to everything", file=sys.stderr,
                  flush=True)
            theirs[points] = measure(points, False, media, low_media, args.seconds, args.nice,
                                     dedicated)
            print(line(points, "all", theirs[points]), flush=True)
            if theirs[points].result.loss > 0.01 or theirs[points].partial:  # it no longer delivers
                saturated_at = points
    for points in sorted(set(ours) & set(theirs)):
        slot, every = ours[points].result, theirs[points].result
        print(f"meeting points={points} ratio_sfu_cpu={every.cpu_s / max(slot.cpu_s, 1e-9):.1f} "
              f"ratio_forwarded={every.received / max(slot.received, 1):.1f} "
              f"(everyone-subscribes / slots)")
    for runs, mode in ((ours, "slots"), (theirs, "all")):
        sizes_run = sorted(p for p, run in runs.items() if not run.partial)  # partial: not comparable
        for small, big in zip(sizes_run, sizes_run[1:]):
            a, b = runs[small].result, runs[big].result
            print(f"meeting growth mode={mode} points={small}->{big} p_ratio={big / small:.1f} "
                  f"sfu_cpu_ratio={(b.cpu_s / b.seconds) / max(a.cpu_s / a.seconds, 1e-9):.1f} "
                  f"forwarded_ratio={(b.received / b.seconds) / max(a.received / a.seconds, 1e-9):.1f} "
                  f"(linear: p_ratio; quadratic: {(big / small) ** 2:.1f})")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.seconds:.0f} s windows; SFU and load at nice {-args.nice}"
          + ("; the SFU on a core of its own at real-time priority" if dedicated else ""))
    print(f"uptime: {uptime()}")


if __name__ == "__main__":
    main()
