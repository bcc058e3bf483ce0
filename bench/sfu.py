"""SFU benchmark: CPU per forwarded packet, added latency and loss, against Janus VideoRoom.

    .venv/bin/python bench/sfu.py            # 16, 128, 256 and 512 subscriber streams
    .venv/bin/python bench/sfu.py --quick    # 16 and 128, shorter windows

For each size the same load runs through hoinghi's SFU (bench/sfu_server.py, its own
process) and through Janus 1.1.2 VideoRoom (started here, loopback HTTP API, own config in a
temporary folder): publishers send pre-encoded VP8 + Opus from one process, subscribers in
several processes count and timestamp packets without decoding (bench/sfu_load.py). The
server's CPU time over the measurement window comes from /proc/PID/stat and is divided by the
packets subscribers received in that window. Latency is publisher send -> arrival at the
subscriber's socket (the kernel's receive timestamp, SO_TIMESTAMPNS, against the send time in
the payload, both CLOCK_REALTIME), so it includes two hops of the loopback stack but not the
subscriber process's own queueing; loss = 1 - received / expected by sequence number. "wait%" is the time the SFU was runnable but waiting for a CPU (schedstat): when it
is high the box, shared with other work, set the pace. One line per size:
``sfu subs=N cpu_per_pkt_us=… janus_cpu_per_pkt_us=… ratio=…``.

Then, for the sizes up to 128 streams, forwarding with live transcription beside it in the
SFU's process (bench/sfu_server.py, HOINGHI_BENCH_TRANSCRIBE: the audio tap, Opus decoding and
the Transcriber on the tiny Vosk model for TRANSCRIBED_SPEAKERS speakers, each publisher's
microphone tapped as several) against the same load without it. A single short window is
within the box's noise (a p99 is a few packets), so these runs are longer and interleaved
(TRANSCRIBE_REPEATS pairs, off-on then on-off and so on: the box's drift hits both alike) and the line
gives the median of the runs with their spread (min–max), and the ratio of the medians:
``sfu transcribe=8 subs=N runs=R lat_p50_ms=… [min-max] off_lat_p50_ms=… lat_p50_ratio=… lat_p99_ratio=…``.
``--transcribe-only`` runs just this comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ifaddr

HERE = Path(__file__).resolve().parent
sys.path[0] = str(HERE.parent)  # the repository root, so that `bench` is importable

from bench import sfu_janus, sfu_media  # noqa: E402
from bench.processes import (  # noqa: E402
    SATURATED_WAIT,
    Process,
    Result,
    measure_window,
    raise_priority,
    start_subscribers,
)



@dataclass(frozen=True)
class Size:
    streams: int  # subscriber streams = subscribers x published tracks
    publishers: int  # each sends one audio + one video track
    subscribers: int
    processes: int  # subscriber processes


SIZES = [Size(16, 1, 8, 1), Size(128, 2, 32, 2), Size(256, 2, 64, 4), Size(512, 4, 64, 4)]
TRANSCRIBED_SPEAKERS = 8  # the target size for captions: forwarding must not notice them
TRANSCRIBE_UP_TO = 128  # streams: the sizes that also run with transcription beside
TRANSCRIBE_REPEATS = 3  # interleaved off/on pairs per size
TRANSCRIBE_SECONDS = 15.0  # window of each of those runs (10 s with --quick)


def local_address() -> str:
    """The interface address aioice pairs use (it skips loopback)."""
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    raise RuntimeError("no non-loopback IPv4 address for ICE")


def free_port() -> int:
    return sfu_janus.free_port()


def measure(target: str, url: str, server_pid: int, size: Size, media: Path,
            seconds: float, nice: int) -> Result:
    load = str(HERE / "sfu_load.py")
    children: list[Process] = []
    try:
        publishers = Process([load, json.dumps({
            "role": "publish", "target": target, "url": url, "count": size.publishers,
            "prefix": "p", "media": str(media)})])
        children.append(publishers)
        if publishers.line(60) != "ready":
            raise RuntimeError("publishers not ready")
        raise_priority(server_pid, nice)
        raise_priority(publishers.popen.pid, nice)
        time.sleep(0.5)
        per = -(-size.subscribers // size.processes)
        subscribers, _ = start_subscribers(load, [
            {"target": target, "url": url, "count": min(per, size.subscribers - k * per),
             "prefix": f"s{k}_"} for k in range(size.processes)], nice, target, timeout=180)
        children.extend(subscribers)
        time.sleep(1.0)  # let the first key frames and RTCP settle
        raise_priority(server_pid, nice)  # again: threads Janus started meanwhile
        return measure_window(server_pid, subscribers, seconds)
    finally:
        for child in children:
            child.stop()


def run_sfu(size: Size, media: Path, seconds: float, nice: int, transcribe: bool = False) -> Result:
    port = free_port()
    env = dict(os.environ, HOINGHI_BENCH_TRANSCRIBE=str(-(-TRANSCRIBED_SPEAKERS // size.publishers))) if transcribe \
        else None
    server = Process([str(HERE / "sfu_server.py"), str(port)], env)
    try:
        if server.line(60) != "ready":
            raise RuntimeError("SFU server not ready")
        return measure("sfu", f"http://127.0.0.1:{port}", server.popen.pid, size, media,
                       seconds, nice)
    finally:
        server.stop()


def run_janus(size: Size, media: Path, seconds: float, folder: Path, nice: int) -> Result:
    janus = sfu_janus.JanusServer(folder, local_address())
    pid = janus.start()
    try:
        return measure("janus", janus.url, pid, size, media, seconds, nice)
    finally:
        janus.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 and 128 streams, 5 s windows")
    parser.add_argument("--seconds", type=float, help="measurement window per run")
    parser.add_argument("--sizes", help="comma-separated subscriber stream counts")
    parser.add_argument("--transcribe-only", action="store_true",
                        help="only forwarding with and without transcription beside it (no Janus)")
    parser.add_argument("--repeats", type=int, default=TRANSCRIBE_REPEATS,
                        help="interleaved off/on pairs of that comparison")
    parser.add_argument("--nice", type=int, default=10,
                        help="run servers and load generators at nice -N while measuring "
                             "(the box is shared; 0 leaves priorities alone)")
    args = parser.parse_args()
    sizes = [s for s in SIZES if not args.quick or s.streams <= 128]
    if args.sizes:
        wanted = {int(x) for x in args.sizes.split(",")}
        sizes = [s for s in SIZES if s.streams in wanted]
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    if not sfu_janus.available() and not args.transcribe_only:
        sys.exit("bench/sfu.py: Janus (Debian package 'janus') is not installed; "
                 "it is the baseline this benchmark compares with: run ./scripts/bench-deps")

    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-sfu-") as tmp:
        media = Path(tmp) / "media.pickle"
        sfu_media.save(sfu_media.make(), media)
        rows = []
        for size in sizes if not args.transcribe_only else []:
            print(f"… {size.streams} streams: {size.publishers} publishers x "
                  f"{size.subscribers} subscribers", file=sys.stderr, flush=True)
            ours = run_sfu(size, media, seconds, args.nice)
            janus = run_janus(size, media, seconds, Path(tmp) / f"janus-{size.streams}",
                              args.nice)
            rows.append((size, ours, janus))
        beside_s = args.seconds or (10.0 if args.quick else TRANSCRIBE_SECONDS)
        beside: list[tuple[Size, list[Result], list[Result]]] = []
        for size in sizes:
            if size.streams > TRANSCRIBE_UP_TO:
                continue
            offs: list[Result] = []
            ons: list[Result] = []
            for k in range(args.repeats):  # interleaved, the order alternating: off on, on off, off on…
                print(f"… {size.streams} streams, pair {k + 1}/{args.repeats}: without and with "
                      f"{TRANSCRIBED_SPEAKERS} speakers transcribed beside", file=sys.stderr, flush=True)
                for transcribe in (False, True) if k % 2 == 0 else (True, False):
                    (ons if transcribe else offs).append(run_sfu(size, media, beside_s, args.nice, transcribe))
            beside.append((size, offs, ons))

    print(f"{seconds if rows else beside_s:.0f} s windows; servers and load generators at nice {-args.nice}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'streams':>7} {'pkt/s':>7} {'SFU cpu%':>8} {'wait%':>6} {'µs/pkt':>7} "
          f"{'Janus cpu%':>10} "
          f"{'µs/pkt':>7} {'ratio':>6} {'audio p50/p99 ms':>17} {'video p50/p99 ms':>17} "
          f"{'loss':>7} {'Janus p50/p99 ms':>17} {'Janus loss':>10}")
    for size, ours, janus in rows:
        print(f"{size.streams:>7} {ours.received / ours.seconds:>7.0f} "
              f"{100 * ours.cpu_s / ours.seconds:>8.1f} {100 * ours.wait_s / ours.seconds:>6.1f} "
              f"{ours.cpu_per_packet_us:>7.1f} "
              f"{100 * janus.cpu_s / janus.seconds:>10.1f} {janus.cpu_per_packet_us:>7.1f} "
              f"{ours.cpu_per_packet_us / janus.cpu_per_packet_us:>6.2f} "
              f"{ours.percentile('audio', 50):>8.2f}/{ours.percentile('audio', 99):<8.2f} "
              f"{ours.percentile('video', 50):>8.2f}/{ours.percentile('video', 99):<8.2f} "
              f"{ours.loss:>7.4f} "
              f"{janus.percentile(None, 50):>8.2f}/{janus.percentile(None, 99):<8.2f} "
              f"{janus.loss:>10.4f}")
    for size, ours, janus in rows:
        print(f"sfu subs={size.streams} cpu_per_pkt_us={ours.cpu_per_packet_us:.1f} "
              f"janus_cpu_per_pkt_us={janus.cpu_per_packet_us:.1f} "
              f"ratio={ours.cpu_per_packet_us / janus.cpu_per_packet_us:.2f} "
              f"lat_p50_ms={ours.percentile(None, 50):.2f} "
              f"lat_p99_ms={ours.percentile(None, 99):.2f} loss={ours.loss:.4f} "
              f"audio_p50_ms={ours.percentile('audio', 50):.2f} "
              f"audio_p99_ms={ours.percentile('audio', 99):.2f} "
              f"video_p50_ms={ours.percentile('video', 50):.2f} "
              f"video_p99_ms={ours.percentile('video', 99):.2f} "
              f"janus_lat_p50_ms={janus.percentile(None, 50):.2f} "
              f"janus_lat_p99_ms={janus.percentile(None, 99):.2f} "
              f"janus_loss={janus.loss:.4f} pkt_per_s={ours.received / ours.seconds:.0f} "
              f"sfu_cpu_pct={100 * ours.cpu_s / ours.seconds:.1f} "
              f"sfu_runq_wait_pct={100 * ours.wait_s / ours.seconds:.1f} "
              f"saturated={int(ours.wait_s / ours.seconds > SATURATED_WAIT)}")
    for size, offs, ons in beside:
        on50, off50 = _spread(ons, 50), _spread(offs, 50)
        on99, off99 = _spread(ons, 99), _spread(offs, 99)
        print(f"sfu transcribe={TRANSCRIBED_SPEAKERS} subs={size.streams} runs={len(ons)} window_s={beside_s:.0f} "
              f"lat_p50_ms={on50[0]:.2f} [{on50[1]:.2f}-{on50[2]:.2f}] "
              f"off_lat_p50_ms={off50[0]:.2f} [{off50[1]:.2f}-{off50[2]:.2f}] "
              f"lat_p99_ms={on99[0]:.2f} [{on99[1]:.2f}-{on99[2]:.2f}] "
              f"off_lat_p99_ms={off99[0]:.2f} [{off99[1]:.2f}-{off99[2]:.2f}] "
              f"lat_p50_ratio={on50[0] / off50[0]:.2f} lat_p99_ratio={on99[0] / off99[0]:.2f} "
              f"pair_p99_ratios={','.join(f'{a.percentile(None, 99) / b.percentile(None, 99):.2f}' for a, b in zip(ons, offs))} "
              f"loss={statistics.median(r.loss for r in ons):.4f} off_loss={statistics.median(r.loss for r in offs):.4f} "
              f"cpu_per_pkt_us={statistics.median(r.cpu_per_packet_us for r in ons):.1f} "
              f"off_cpu_per_pkt_us={statistics.median(r.cpu_per_packet_us for r in offs):.1f} "
              f"saturated={sum(r.wait_s / r.seconds > SATURATED_WAIT for r in ons)}/{len(ons)} "
              f"off_saturated={sum(r.wait_s / r.seconds > SATURATED_WAIT for r in offs)}/{len(offs)} "
              f"load_avg={os.getloadavg()[0]:.1f}")


def _spread(results: list[Result], q: float) -> tuple[float, float, float]:
    """Median, min and max over runs of each run's latency percentile q (all packets)."""
    values = [r.percentile(None, q) for r in results]
    return statistics.median(values), min(values), max(values)


if __name__ == "__main__":
    main()
