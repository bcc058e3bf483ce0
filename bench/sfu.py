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

Then, for the sizes up to 128 streams, the SFU runs again with live transcription beside
forwarding in its process (bench/sfu_server.py, HOINGHI_BENCH_TRANSCRIBE: the audio tap, Opus
decoding and the Transcriber on the tiny Vosk model for TRANSCRIBED_SPEAKERS speakers, each
publisher's microphone tapped as several), one line per size against the run without it:
``sfu transcribe=8 subs=N lat_p50_ms=… off_lat_p50_ms=… lat_p50_ratio=… lat_p99_ratio=…``.
"""

from __future__ import annotations

import argparse
import json
import os
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
    parser.add_argument("--nice", type=int, default=10,
                        help="run servers and load generators at nice -N while measuring "
                             "(the box is shared; 0 leaves priorities alone)")
    args = parser.parse_args()
    sizes = [s for s in SIZES if not args.quick or s.streams <= 128]
    if args.sizes:
        wanted = {int(x) for x in args.sizes.split(",")}
        sizes = [s for s in SIZES if s.streams in wanted]
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    if not sfu_janus.available():
        sys.exit("bench/sfu.py: Janus (Debian package 'janus') is not installed; "
                 "it is the baseline this benchmark compares with: run ./scripts/bench-deps")

    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-sfu-") as tmp:
        media = Path(tmp) / "media.pickle"
        sfu_media.save(sfu_media.make(), media)
        rows = []
        for size in sizes:
            print(f"… {size.streams} streams: {size.publishers} publishers x "
                  f"{size.subscribers} subscribers", file=sys.stderr, flush=True)
            ours = run_sfu(size, media, seconds, args.nice)
            janus = run_janus(size, media, seconds, Path(tmp) / f"janus-{size.streams}",
                              args.nice)
            rows.append((size, ours, janus))
        beside = []
        for size, ours, _ in rows:
            if size.streams <= TRANSCRIBE_UP_TO:
                print(f"… {size.streams} streams with {TRANSCRIBED_SPEAKERS} speakers transcribed beside",
                      file=sys.stderr, flush=True)
                beside.append((size, ours, run_sfu(size, media, seconds, args.nice, transcribe=True)))

    print(f"{seconds:.0f} s windows; servers and load generators at nice {-args.nice}; "
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
    for size, off, on in beside:
        print(f"sfu transcribe={TRANSCRIBED_SPEAKERS} subs={size.streams} "
              f"lat_p50_ms={on.percentile(None, 50):.2f} lat_p99_ms={on.percentile(None, 99):.2f} "
              f"off_lat_p50_ms={off.percentile(None, 50):.2f} off_lat_p99_ms={off.percentile(None, 99):.2f} "
              f"lat_p50_ratio={on.percentile(None, 50) / off.percentile(None, 50):.2f} "
              f"lat_p99_ratio={on.percentile(None, 99) / off.percentile(None, 99):.2f} "
              f"loss={on.loss:.4f} off_loss={off.loss:.4f} cpu_per_pkt_us={on.cpu_per_packet_us:.1f} "
              f"off_cpu_per_pkt_us={off.cpu_per_packet_us:.1f} sfu_cpu_pct={100 * on.cpu_s / on.seconds:.1f} "
              f"off_sfu_cpu_pct={100 * off.cpu_s / off.seconds:.1f} "
              f"saturated={int(on.wait_s / on.seconds > SATURATED_WAIT)} "
              f"off_saturated={int(off.wait_s / off.seconds > SATURATED_WAIT)} load_avg={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
