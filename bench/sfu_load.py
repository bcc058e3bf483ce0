"""Load generator for the SFU benchmark, one role per process (run by bench/sfu.py).

``python bench/sfu_load.py '<json>'`` with role ``publish`` (pre-encoded VP8 + Opus, sent by
hand: no encoder runs) or ``subscribe`` (counts, timestamps and checks packets, decodes
nothing), against target ``sfu`` (bench/sfu_server.py) or ``janus`` (VideoRoom).

Every payload ends with the send time (``time.time_ns()``), and subscribers read each
datagram's arrival time from the kernel (``SO_TIMESTAMPNS``, the same clock), so latency per
packet is publisher send -> arrival at the subscriber's socket: what the server under test
adds (plus two loopback hops), not the load generator's own queueing. Talks to bench/sfu.py over
stdin/stdout: prints ``ready``; on ``start`` opens the measurement window, on ``stop``
closes it and prints one JSON line of results; exits on ``exit`` or end of input.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import socket
import struct
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import aiohttp

# run as a script: the repository root, not bench/ (whose sfu.py would shadow the package)
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402

from bench import sfu_janus, sfu_media  # noqa: E402
from sfu.aiortc_hooks import (  # noqa: E402
    RtpSink,
    SenderAccess,
    SilentTrack,
    intercept_rtp,
    negotiated_codecs,
    negotiated_extensions,
)
from sfu._rtpwrite import RtpWriter  # noqa: E402
from sfu.packet import ExtensionIds, build_extensions  # noqa: E402


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


class Signalling:
    """How a load process talks to the server under test."""

    def __init__(self, target: str, url: str, http: aiohttp.ClientSession) -> None:
        self.target = target
        self.url = url
        self.http = http
        self.janus: sfu_janus.JanusSession | None = None

    async def open(self) -> None:
        if self.target == "janus":
            self.janus = sfu_janus.JanusSession(self.http, self.url)
            await self.janus.create()

    async def _sfu(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.url}/{path}", json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def publish(self, name: str, offer: str, sources: dict[str, str] | None = None) -> str:
        if self.janus is None:
            await self._sfu("join", {"peer": name})
            return (await self._sfu("publish", {"peer": name, "sdp": offer,
                                                "sources": sources or {}}))["sdp"]
        handle = await self.janus.attach()
        try:
            await self.janus.request(handle, {
                "request": "create", "room": sfu_janus.ROOM, "publishers": 64, "bitrate": 0,
                "audiocodec": "opus", "videocodec": "vp8", "fir_freq": 0,
                "audiolevel_ext": True, "transport_wide_cc_ext": False,
                "playoutdelay_ext": False, "videoorient_ext": False})
        except RuntimeError:
            pass  # another publisher created it
        event = await self.janus.message(handle, {
            "request": "joinandconfigure", "room": sfu_janus.ROOM, "ptype": "publisher",
            "display": name, "audio": True, "video": True},
            {"type": "offer", "sdp": offer})
        return event["jsep"]["sdp"]

    async def subscribe(self, name: str, pc: RTCPeerConnection,
                        slots: dict[str, int] | None = None) -> int:
        """Subscribe ``pc`` to every published track (or to ``slots``: bench/meeting.py);
        returns how many streams it gets."""
        if self.janus is None:
            await self._sfu("join", {"peer": name})
            reply = await self._sfu("subscribe", {"peer": name, "slots": slots})
            await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self._sfu("answer", {"peer": name, "sdp": pc.localDescription.sdp})
            return reply["streams"]
        handle = await self.janus.attach()
        listing = await self.janus.request(handle, {"request": "listparticipants",
                                                    "room": sfu_janus.ROOM})
        feeds = [p["id"] for p in listing["participants"] if p.get("publisher")]
        event = await self.janus.message(handle, {
            "request": "join", "room": sfu_janus.ROOM, "ptype": "subscriber",
            "streams": [{"feed": f} for f in feeds]})
        await pc.setRemoteDescription(RTCSessionDescription(event["jsep"]["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.janus.message(handle, {"request": "start"},
                                 {"type": "answer", "sdp": pc.localDescription.sdp})
        return 2 * len(feeds)

    async def demand(self) -> dict[str, bool]:
        """Track id -> whether anyone receives that camera layer (what media:layer tells a
        browser); Janus says nothing, so everything is sent."""
        if self.janus is not None:
            return {}
        async with self.http.get(f"{self.url}/demand") as response:
            response.raise_for_status()
            return await response.json()

    async def close(self) -> None:
        if self.janus is not None:
            await self.janus.close()


# --- publishers -----------------------------------------------------------------------------

class Stream:
    """One outgoing RTP stream written by hand onto a publisher session (the SFU's own C
    writer does the header, SRTP and sendto: the generator stays light)."""

    def __init__(self, transceiver: Any, audio_level: int | None) -> None:
        self.sink = RtpSink(transceiver.sender.transport)
        writer = self.writer = RtpWriter()
        writer.route = self.sink.route
        writer.ssrc = SenderAccess(transceiver.sender).ssrc
        writer.payload_type = negotiated_codecs(transceiver)[0].payloadType
        ids = ExtensionIds.from_uris(negotiated_extensions(transceiver))
        self.extensions = build_extensions(ids, audio_level, True, None) if audio_level else b""
        self.first_byte = 0x90 if self.extensions else 0x80
        self.seq = random.randrange(0, 32768)
        self.ts = random.randrange(0, 1 << 32)
        self.sent = 0
        self.active = True  # a camera layer nobody receives is not sent (media:layer)

    def send(self, payload: bytes, marker: bool, timestamp: int) -> None:
        stamp = time.time_ns().to_bytes(8, "big")
        if self.sink.ready() and self.writer.write(
                self.extensions + payload + stamp, self.first_byte, marker, self.seq, timestamp,
                -1, 0, False):
            self.sent += 1
        self.seq = (self.seq + 1) & 0xFFFF


async def run_publishers(signalling: Signalling, spec: dict[str, Any]) -> None:
    media = sfu_media.load(Path(spec["media"]))
    # bench/meeting.py: a second, low camera layer per publisher (pre-encoded small)
    low_media = sfu_media.load(Path(spec["low_media"])) if spec.get("low_media") else None
    first = spec.get("first", 0)
    pcs, pairs, lows = [], [], []
    for i in range(first, first + spec["count"]):
        # two camera layers: one transport for all three tracks, as browsers bundle
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
                               if low_media else config())
        audio = pc.addTransceiver(SilentTrack("audio", f"a{i}"), direction="sendonly")
        video = pc.addTransceiver(SilentTrack("video", f"v{i}"), direction="sendonly")
        low = pc.addTransceiver(SilentTrack("video", f"l{i}"), direction="sendonly") if low_media else None
        await pc.setLocalDescription(await pc.createOffer())
        sources = {"0": "microphone", "1": "camera", "2": "camera-low"} if low_media else None
        answer = await signalling.publish(f"{spec['prefix']}{i}", pc.localDescription.sdp, sources)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        pcs.append(pc)
        pairs.append((audio, video, 20 if i == 0 and spec["prefix"] == "p" else 60))
        lows.append(low)
    while not all(SenderAccess(t.sender).started for a, v, _ in pairs for t in (a, v)):
        await asyncio.sleep(0.05)
    streams = [(Stream(a, level), Stream(v, None)) for a, v, level in pairs]
    low_streams = [Stream(t, None) for t in lows if t is not None]
    layers = {f"{spec['prefix']}{first + k}:{mid}": stream for k, (_, video) in enumerate(streams)
              for mid, stream in (("1", video), ("2", low_streams[k] if low_streams else None))
              if stream is not None}

    async def follow_demand() -> None:
        while True:
            needed = await signalling.demand()
            for track_id, stream in layers.items():
                stream.active = needed.get(track_id, True)
            await asyncio.sleep(0.5)

    follower = asyncio.ensure_future(follow_demand())
    print("ready", flush=True)

    # every 5 ms: audio every 20 ms, a video frame every 1/FPS s; a frame's packets leave
    # paced at 2.5 times the video bitrate, as libwebrtc's pacer sends them
    slice_s = 0.005
    budget_per_slice = 2.5 * sfu_media.BITRATE / 8 * slice_s
    slices_per_audio = round(0.02 / slice_s)
    slices_per_frame = round(1 / sfu_media.FPS / slice_s)
    queues: list[list[tuple[bytes, bool, int]]] = [[] for _ in streams]
    budgets = [0.0 for _ in streams]
    # each point's microphone and camera run on clocks of their own: phases spread over the
    # slices (all streams of a process sending in the same slice would be bursts no meeting has)
    phases = random.Random(first)
    audio_phase = [phases.randrange(slices_per_audio) for _ in streams]
    video_phase = [phases.randrange(slices_per_frame) for _ in streams]
    start = time.monotonic()
    tick = 0
    try:
        while True:
            for k, (audio, video) in enumerate(streams):
                audio_tick, video_tick = tick - audio_phase[k], tick - video_phase[k]
                if audio_tick % slices_per_audio == 0:
                    audio.send(media.audio[(audio_tick // slices_per_audio) % len(media.audio)], False,
                               audio.ts)
                    audio.ts = (audio.ts + 960) & 0xFFFFFFFF
                if video_tick % slices_per_frame == 0:
                    payloads, _ = media.video[(video_tick // slices_per_frame) % len(media.video)]
                    if video.active:  # (the clock runs on while a layer is not sent)
                        queues[k].extend((p, n == len(payloads) - 1, video.ts)
                                         for n, p in enumerate(payloads))
                    video.ts = (video.ts + 90000 // sfu_media.FPS) & 0xFFFFFFFF
                queue = queues[k]
                budgets[k] = budgets[k] + budget_per_slice if queue else 0.0
                while queue and budgets[k] > 0:
                    payload, marker, timestamp = queue.pop(0)
                    video.send(payload, marker, timestamp)
                    budgets[k] -= len(payload)
                low = low_streams[k] if low_media is not None else None
                if low is not None and video_tick % slices_per_frame == 0:
                    # small frames: one burst, no pacing needed
                    payloads, _ = low_media.video[(video_tick // slices_per_frame) % len(low_media.video)]
                    for n, payload in enumerate(payloads if low.active else ()):
                        low.send(payload, n == len(payloads) - 1, low.ts)
                    low.ts = (low.ts + 90000 // sfu_media.FPS) & 0xFFFFFFFF
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * slice_s - time.monotonic()))
    finally:
        follower.cancel()
        for pc in pcs:
            await pc.close()


# --- subscribers ----------------------------------------------------------------------------

class Counter:
    """Counts packets per SSRC inside the measurement window; latency per kind."""

    def __init__(self) -> None:
        self.counting = False
        self.seen: set[int] = set()
        # ssrc -> [received, first extended seq, highest extended seq, last seq, cycles]
        self.streams: dict[int, list[int]] = {}
        self.kinds: dict[int, str] = {}  # payload type -> kind
        self.latency = {"audio": array("d"), "video": array("d")}
        self.user_stamped = 0  # packets in the window without the kernel's arrival time
        # kernel arrival -> read by this process: its own queueing, which latency leaves out
        self.reader_lag = array("d")

    def counter(self):
        """The per-packet function: SSRC seen; inside the window, count and latency."""
        seen, streams, kinds, latency = self.seen, self.streams, self.kinds, self.latency
        reader_lag = self.reader_lag

        def count(data: bytes, arrival_ns: int, kernel_time: bool, read_ns: int) -> None:
            ssrc = int.from_bytes(data[8:12], "big")
            seen.add(ssrc)
            if not self.counting:
                return
            if kernel_time:
                reader_lag.append((read_ns - arrival_ns) / 1e6)
            else:
                self.user_stamped += 1
            seq = (data[2] << 8) | data[3]
            state = streams.get(ssrc)
            if state is None:
                streams[ssrc] = [1, seq, seq, seq, 0]
            else:
                if seq < state[3] and state[3] - seq > 0x8000:
                    state[4] += 1
                ext = (state[4] << 16) | seq
                if ext > state[2]:
                    state[2] = ext
                state[3] = seq
                state[0] += 1
            kind = kinds.get(data[1] & 0x7F)
            if kind is not None:
                latency[kind].append((arrival_ns - int.from_bytes(data[-8:], "big")) / 1e6)

        return count

    def result(self) -> dict[str, Any]:
        received = sum(s[0] for s in self.streams.values())
        expected = sum(s[2] - s[1] + 1 for s in self.streams.values())
        lags = sorted(self.reader_lag)
        return {"received": received, "expected": expected, "user_stamped": self.user_stamped,
                "reader_lag_p99_ms": lags[int(0.99 * len(lags))] if lags else 0.0,
                "latency": {k: list(v) for k, v in self.latency.items()}}


def payload_kinds(sdp: str) -> dict[int, str]:
    kinds = {}
    for line in sdp.splitlines():
        if line.startswith("m=audio") or line.startswith("m=video"):
            parts = line.split()
            for pt in parts[3:]:
                kinds[int(pt)] = parts[0][2:]
    return kinds


SO_TIMESTAMPNS = 35  # Linux <asm-generic/socket.h>; Python's socket module lacks the names
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 4 * 1024 * 1024  # bytes: seconds of a subscriber's streams


def fast_receive(pc: RTCPeerConnection, count) -> int:
    """Count RTP straight from the UDP sockets: every datagram waiting is read at each wake-up
    with its kernel arrival time, SRTP-unprotected and passed to ``count``, skipping aioice's
    STUN parse attempt and queue and aiortc's DTLS task. Keeps the load generator light, so
    that it is not what saturates. STUN and RTCP still take aiortc's path (ICE consent,
    reports).

    Every local socket of each ICE transport is taken over, not only the nominated pair's:
    which pair carries the media is the sending side's choice (the SFU, controlling with
    aggressive nomination, sends on the last pair it nominated, which need not be the one
    this side nominated first, and it may change after the connection came up), and a
    packet read through aiortc's path is timed by this process, not the kernel. Returns how
    many sockets were taken over."""
    loop = asyncio.get_running_loop()
    taken = 0
    for dtls in {t.receiver.transport for t in pc.getTransceivers()}:
        for protocol in list(dtls.transport._connection._protocols):
            take_over(loop, protocol, dtls, count)
            taken += 1
    return taken


def take_over(loop: asyncio.AbstractEventLoop, protocol: Any, dtls: Any, count) -> None:
    """Read ``protocol``'s socket (one local ICE candidate) here instead of through asyncio's
    transport: RTP is counted with its kernel arrival time, anything else goes on to aioice."""
    transport = protocol.transport
    transport.pause_reading()  # this reader takes over, on its own descriptor
    sock = transport.get_extra_info("socket").dup()
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:  # a load process that waits for a CPU must not drop what the server sent in time
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:  # not root: what the kernel allows
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def read() -> None:
        while True:
            try:
                data, ancillary, _, addr = sock.recvmsg(2048, 64)
            except OSError:  # drained (EAGAIN), or closed under us
                return
            srtp = dtls._rx_srtp  # (None until DTLS is keyed: aiortc's path then)
            if srtp is not None and 127 < data[0] < 192 and not 191 < data[1] < 224:
                now = arrival = time.time_ns()
                kernel_time = False
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = struct.unpack("qq", value[:16])
                        arrival, kernel_time = seconds * 1_000_000_000 + nanoseconds, True
                try:
                    plain = srtp.unprotect(data)
                except Exception:  # pylibsrtp.Error: not for us / replay
                    continue
                count(plain, arrival, kernel_time, now)
            else:
                protocol.datagram_received(data, addr)

    loop.add_reader(sock.fileno(), read)


async def run_subscribers(signalling: Signalling, spec: dict[str, Any],
                          commands: asyncio.Queue[str]) -> None:
    counter = Counter()
    count = counter.counter()

    def handler(data: bytes, arrival_time_ms: int) -> None:
        count(data, time.time_ns(), False, 0)
    pcs, expected = [], []
    fast: set[RTCPeerConnection] = set()
    first = spec.get("first", 0)
    for i in range(first, first + spec["count"]):
        pc = RTCPeerConnection(config())
        original = pc.setRemoteDescription

        async def set_remote(description, pc=pc, original=original) -> None:
            await original(description)
            counter.kinds.update(payload_kinds(description.sdp))
            for dtls in {t.receiver.transport for t in pc.getTransceivers()}:
                intercept_rtp(dtls, handler)

        def connected(pc=pc) -> None:
            # the light reader from the start: a process still setting up its other
            # subscribers must not drop what the first ones receive
            if pc.connectionState == "connected" and pc not in fast:
                fast.add(pc)
                fast_receive(pc, count)

        pc.setRemoteDescription = set_remote
        pc.on("connectionstatechange", connected)
        expected.append(await signalling.subscribe(f"{spec['prefix']}{i}", pc, spec.get("slots")))
        pcs.append(pc)
    deadline = time.monotonic() + spec.get("ready_timeout", 60)
    while len(counter.seen) < sum(expected) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for pc in pcs:
        if pc not in fast:  # (connected before the handler saw it)
            fast.add(pc)
            fast_receive(pc, count)
    print("ready" if len(counter.seen) >= sum(expected) else
          f"ready partial {len(counter.seen)}/{sum(expected)}", flush=True)
    try:
        while (command := await commands.get()) != "exit":
            if command == "start":
                counter.counting = True
            elif command == "stop":
                counter.counting = False
                print(json.dumps(counter.result()), flush=True)
    finally:
        for pc in pcs:
            await pc.close()


async def read_commands(queue: asyncio.Queue[str]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        await queue.put(line.strip() or "exit")
        if not line:
            return


async def main(spec: dict[str, Any]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # 30 peer connections: sockets each
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    commands: asyncio.Queue[str] = asyncio.Queue()
    reader = asyncio.ensure_future(read_commands(commands))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        signalling = Signalling(spec["target"], spec["url"], http)
        await signalling.open()
        try:
            if spec["role"] == "publish":
                publishers = asyncio.ensure_future(run_publishers(signalling, spec))
                while await commands.get() != "exit":
                    pass
                publishers.cancel()
                await asyncio.gather(publishers, return_exceptions=True)
            else:
                await run_subscribers(signalling, spec, commands)
        finally:
            await signalling.close()
    reader.cancel()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
    sys.stdout.flush()
    # the stdin reader thread may still block in readline: do not wait for it
    import os

    os._exit(0)
