"""A province meeting through the SFU: P points, each publishing audio and two camera layers
and each receiving what a large meeting's screen receives (the speaker's high layer, four
thumbnails' low layers, the three loudest microphones), for P = 20, 60 and 120; then, as the
baseline, the same meeting with everyone subscribing to every other point's audio and high
layer (capped where this 2-core box saturates).

    .venv/bin/python bench/meeting.py        # P = 20, 60, 120; baseline at P = 10, 20
    .venv/bin/python bench/meeting.py --points 20,60 --baseline 20 --seconds 5

Processes as in bench/sfu.py (helpers in bench/processes.py): the SFU alone in its process
(bench/sfu_server.py), publishers (pre-encoded VP8 960x540 at 1.5 Mbit/s + 320x180 at
150 kbit/s + Opus, replayed, no encoder; point 0 speaks) and subscribers (count and
timestamp, decode nothing) in others. Publishers follow the SFU's layer demand as browsers
follow media:layer: a camera layer nobody receives is not sent. A point's publisher and
subscriber share one SFU peer, so it never receives itself.
One line per size: ``meeting points=P sfu_core_pct=.. forwarded_pkts_per_s=..
lat_p50_ms=.. lat_p99_ms=.. loss=.. fds=.. mode=slots ...``, the baseline's lines (mode=all;
sizes past the first that loses packets are skipped), the ratio of SFU CPU and forwarded packets
where both ran, and how each grows with P. ``saturated=1``: the SFU waited for a CPU more
than 15 % of the window (the box, not the SFU, set the pace).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[0] = str(HERE.parent)  # the repository root, so that `bench` is importable

from bench import sfu_media  # noqa: E402
from bench.processes import (  # noqa: E402
    SATURATED_WAIT,
    Process,
    Result,
    measure_window,
    raise_priority,
    start_subscribers,
)
from bench.sfu_janus import free_port  # noqa: E402

SLOTS = {"thumbnails": 4, "loudest": 3}
PUBLISHERS_PER_PROCESS = 30
SUBSCRIBERS_PER_PROCESS = 20
SETTLE_S = 4.0  # key frames every 2 s in the loop (slots start on one); unneeded layers stop after 2 s


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(first, min(size, total - first)) for first in range(0, total, size)]


def measure(points: int, slots: bool, media: Path, low_media: Path, seconds: float,
            nice: int) -> tuple[Result, int, int]:
    """One meeting: its result, the SFU's open descriptors, and how many subscriber
    processes did not receive every stream they subscribed to before the window."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    load = str(HERE / "sfu_load.py")
    server = Process([str(HERE / "sfu_server.py"), str(port)])
    children = [server]
    try:
        if server.line(60) != "ready":
            raise RuntimeError("SFU server not ready")
        publishers = []
        for first, count in chunks(points, PUBLISHERS_PER_PROCESS):
            process = Process([load, json.dumps({
                "role": "publish", "target": "sfu", "url": url, "count": count, "first": first,
                "prefix": "p", "media": str(media), "low_media": str(low_media)})])
            children.append(process)
            publishers.append(process)
        for process in publishers:
            if process.line(120) != "ready":
                raise RuntimeError("publishers not ready")
        raise_priority(server.popen.pid, nice)
        for process in publishers:
            raise_priority(process.popen.pid, nice)
        time.sleep(1.0)  # the speaker is detected (300 ms hold) before anyone subscribes
        subscribers, partial = start_subscribers(load, [
            {"target": "sfu", "url": url, "count": count, "first": first, "prefix": "p",
             "slots": SLOTS if slots else None}
            for first, count in chunks(points, SUBSCRIBERS_PER_PROCESS)], nice, "sfu")
        children.extend(subscribers)
        time.sleep(SETTLE_S)
        result = measure_window(server.popen.pid, subscribers, seconds)
        return result, open_descriptors(server.popen.pid), partial
    finally:
        for child in reversed(children):
            child.stop()


def line(points: int, mode: str, result: Result, fds: int, partial: int) -> str:
    return (f"meeting points={points} "
            f"sfu_core_pct={100 * result.cpu_s / result.seconds:.1f} "
            f"forwarded_pkts_per_s={result.received / result.seconds:.0f} "
            f"lat_p50_ms={result.percentile(None, 50):.2f} "
            f"lat_p99_ms={result.percentile(None, 99):.2f} loss={result.loss:.4f} fds={fds} "
            f"mode={mode} cpu_per_pkt_us={result.cpu_per_packet_us:.1f} "
            f"runq_wait_pct={100 * result.wait_s / result.seconds:.1f} "
            f"saturated={int(result.wait_s / result.seconds > SATURATED_WAIT)}"
            + (f" partial={partial} (subscriber processes not receiving everything: not comparable)"
               if partial else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", default="20,60,120", help="meeting sizes (slots)")
    parser.add_argument("--baseline", default="10,20",
                        help="sizes for everyone-subscribes-to-everything (it grows with P²; "
                             "sizes past the first that loses packets are skipped)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measurement window")
    parser.add_argument("--nice", type=int, default=10,
                        help="run the SFU and load generators at nice -N (0: leave alone)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.points.split(",") if x]
    baseline = [int(x) for x in args.baseline.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-meeting-") as tmp:
        media, low_media = Path(tmp) / "high.pickle", Path(tmp) / "low.pickle"
        print("… encoding the media loops", file=sys.stderr, flush=True)
        sfu_media.save(sfu_media.make(), media)
        sfu_media.save(sfu_media.make(320, 180, 150_000), low_media)
        ours: dict[int, tuple[Result, int, int]] = {}
        theirs: dict[int, tuple[Result, int, int]] = {}
        for points in sizes:
            print(f"… {points} points, slots", file=sys.stderr, flush=True)
            ours[points] = measure(points, True, media, low_media, args.seconds, args.nice)
            print(line(points, "slots", *ours[points]), flush=True)
        saturated_at = None
        for points in baseline:
            if saturated_at is not None:
                print(f"meeting points={points} mode=all skipped=1 (the box no longer delivered "
                      f"the load at points={saturated_at})", flush=True)
                continue
            print(f"… {points} points, everyone subscribes to everything", file=sys.stderr,
                  flush=True)
            theirs[points] = measure(points, False, media, low_media, args.seconds, args.nice)
            print(line(points, "all", *theirs[points]), flush=True)
            if theirs[points][0].loss > 0.01 or theirs[points][2]:  # it no longer delivers
                saturated_at = points
    for points in sorted(set(ours) & set(theirs)):
        slot, every = ours[points][0], theirs[points][0]
        print(f"meeting points={points} ratio_sfu_cpu={every.cpu_s / max(slot.cpu_s, 1e-9):.1f} "
              f"ratio_forwarded={every.received / max(slot.received, 1):.1f} "
              f"(everyone-subscribes / slots)")
    for runs, mode in ((ours, "slots"), (theirs, "all")):
        sizes_run = sorted(p for p, run in runs.items() if not run[2])  # partial runs: not comparable
        for small, big in zip(sizes_run, sizes_run[1:]):
            a, b = runs[small][0], runs[big][0]
            print(f"meeting growth mode={mode} points={small}->{big} p_ratio={big / small:.1f} "
                  f"sfu_cpu_ratio={(b.cpu_s / b.seconds) / max(a.cpu_s / a.seconds, 1e-9):.1f} "
                  f"forwarded_ratio={(b.received / b.seconds) / max(a.received / a.seconds, 1e-9):.1f} "
                  f"(linear: p_ratio; quadratic: {(big / small) ** 2:.1f})")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.seconds:.0f} s windows; SFU and load at nice {-args.nice}")


if __name__ == "__main__":
    main()
