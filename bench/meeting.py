"""A province meeting through the SFU: P points, each publishing audio and two camera layers
and each receiving what a large meeting's screen receives (the speaker's high layer, four
thumbnails' low layers, the three loudest microphones), for P = 20, 60 and 120; then, as the
baseline, the same meeting with everyone subscribing to every other point's audio and high
layer (capped where this 2-core box saturates).

    .venv/bin/python bench/meeting.py                 # P = 20, 60, 120; baseline at P = 20
    .venv/bin/python bench/meeting.py --points 20,60 --baseline 20,30 --seconds 5

Processes as in bench/sfu.py (whose helpers this reuses): the SFU alone in its process
(bench/sfu_server.py), publishers (pre-encoded VP8 960x540 at 1.5 Mbit/s + 320x180 at
150 kbit/s + Opus; point 0 speaks) and subscribers (count and timestamp, decode nothing) in
others. A point's publisher and subscriber share one SFU peer, so it never receives itself.
One line per size: ``meeting points=P mode=slots sfu_core_pct=.. forwarded_pkts_per_s=..
lat_p50_ms=.. lat_p99_ms=.. loss=.. fds=..``, the baseline's lines (mode=all) and, where both
ran, the ratio of SFU CPU and forwarded packets. ``saturated=1``: the SFU waited for a CPU more
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
from bench.sfu import (  # noqa: E402
    SATURATED_WAIT,
    Process,
    Result,
    cpu_seconds,
    free_port,
    raise_priority,
    runqueue_wait_seconds,
)

SLOTS = {"thumbnails": 4, "loudest": 3}
PUBLISHERS_PER_PROCESS = 30
SUBSCRIBERS_PER_PROCESS = 20
SETTLE_S = 3.0  # key frames come every 2 s in the pre-encoded loop; slots start on one


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def chunks(total: int, size: int) -> list[tuple[int, int]]:
    return [(first, min(size, total - first)) for first in range(0, total, size)]


def measure(points: int, slots: bool, media: Path, low_media: Path, seconds: float,
            nice: int) -> tuple[Result, int]:
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
        subscribers = []
        for first, count in chunks(points, SUBSCRIBERS_PER_PROCESS):
            process = Process([load, json.dumps({
                "role": "subscribe", "target": "sfu", "url": url, "count": count,
                "first": first, "prefix": "p", "slots": SLOTS if slots else None})])
            children.append(process)
            subscribers.append(process)
            raise_priority(process.popen.pid, nice)
        for process in subscribers:
            status = process.line(300)
            if status != "ready":
                print(f"  warning: subscribers {status}", file=sys.stderr)
        time.sleep(SETTLE_S)
        pid = server.popen.pid
        cpu0, wait0, t0 = cpu_seconds(pid), runqueue_wait_seconds(pid), time.monotonic()
        for process in subscribers:
            process.send("start")
        time.sleep(seconds)
        for process in subscribers:
            process.send("stop")
        cpu1, wait1, t1 = cpu_seconds(pid), runqueue_wait_seconds(pid), time.monotonic()
        fds = open_descriptors(pid)
        results = [json.loads(process.line(120)) for process in subscribers]
        return Result(cpu_s=cpu1 - cpu0, wait_s=wait1 - wait0, seconds=t1 - t0,
                      received=sum(r["received"] for r in results),
                      expected=sum(r["expected"] for r in results),
                      latency={k: [x for r in results for x in r["latency"][k]]
                               for k in ("audio", "video")}), fds
    finally:
        for child in reversed(children):
            child.stop()


def line(points: int, mode: str, result: Result, fds: int) -> str:
    return (f"meeting points={points} mode={mode} "
            f"sfu_core_pct={100 * result.cpu_s / result.seconds:.1f} "
            f"forwarded_pkts_per_s={result.received / result.seconds:.0f} "
            f"lat_p50_ms={result.percentile(None, 50):.2f} "
            f"lat_p99_ms={result.percentile(None, 99):.2f} loss={result.loss:.4f} fds={fds} "
            f"cpu_per_pkt_us={result.cpu_per_packet_us:.1f} "
            f"runq_wait_pct={100 * result.wait_s / result.seconds:.1f} "
            f"saturated={int(result.wait_s / result.seconds > SATURATED_WAIT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", default="20,60,120", help="meeting sizes (slots)")
    parser.add_argument("--baseline", default="20",
                        help="sizes for everyone-subscribes-to-everything (it grows with P²)")
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
        ours: dict[int, tuple[Result, int]] = {}
        theirs: dict[int, tuple[Result, int]] = {}
        for points in sizes:
            print(f"… {points} points, slots", file=sys.stderr, flush=True)
            ours[points] = measure(points, True, media, low_media, args.seconds, args.nice)
            print(line(points, "slots", *ours[points]), flush=True)
        for points in baseline:
            print(f"… {points} points, everyone subscribes to everything", file=sys.stderr,
                  flush=True)
            theirs[points] = measure(points, False, media, low_media, args.seconds, args.nice)
            print(line(points, "all", *theirs[points]), flush=True)
    for points in sorted(set(ours) & set(theirs)):
        slot, every = ours[points][0], theirs[points][0]
        print(f"meeting points={points} ratio_sfu_cpu={every.cpu_s / max(slot.cpu_s, 1e-9):.1f} "
              f"ratio_forwarded={every.received / max(slot.received, 1):.1f} "
              f"(everyone-subscribes / slots)")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.seconds:.0f} s windows; SFU and load at nice {-args.nice}")


if __name__ == "__main__":
    main()
