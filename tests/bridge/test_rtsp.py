"""An IP camera or room codec for real: GStreamer's RTSP server on loopback (tests/bridge/rtsp_server.py)
serving H.264 and VP8 (+ Opus) files encoded with a key frame in every frame. The agent publishes the
RTSP stream into a meeting and an aiortc subscriber decodes what the SFU forwards: its codec is the
camera's, and every frame is still a key frame, which no encoder of aiortc's would produce (they send
one at the start and on request): the packets went through as the camera made them."""
from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.vpx import VpxPayloadDescriptor

from bridge import layers
from bridge.agent import run_agent
from bridge.config import build_config
from bridge.sources import Sources
from tests.conftest import RunningServer
from tests.control.conftest import POINT, connect_account, point_token
from tests.control.helpers import make_world

pytestmark = [pytest.mark.slow]
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gi and gst-rtsp-server


def _all_intra(path: Path, codec: str) -> Path:
    video = (["-c:v", "libx264", "-g", "1", "-pix_fmt", "yuv420p", "-profile:v", "baseline", "-preset", "ultrafast"]
             if codec == "h264" else ["-c:v", "libvpx", "-g", "1", "-b:v", "400k", "-deadline", "realtime", "-cpu-used", "8"])
    audio = [] if codec == "h264" else ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", *audio,
                    "-t", "60", *video, *([] if codec == "h264" else ["-c:a", "libopus"]), str(path)], check=True, timeout=180)
    return path


@pytest.fixture(scope="module")
def rtsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no gst-rtsp-server for Debian's python3 (scripts/lib.sh TEST_PACKAGES)")
    folder = tmp_path_factory.mktemp("rtsp")
    h264, vp8 = _all_intra(folder / "cam.mp4", "h264"), _all_intra(folder / "codec.webm", "vp8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([SYSTEM_PYTHON, str(SERVER_SCRIPT), str(port), str(h264), str(vp8)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        yield f"rtsp://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _count_vp8_key_frames(receiver: Any, payload_type: int, key_frames: list[bool]) -> None:
    """Observe the viewer's RTP (a wrapper, nothing changed): each VP8 frame's first packet says
    in its payload header whether the frame is a key frame (RFC 7741: P bit 0)."""
    handle = receiver._handle_rtp_packet

    async def observed(packet: Any, arrival_time_ms: int) -> None:
        if packet.payload_type == payload_type and packet.payload:
            descriptor, header = VpxPayloadDescriptor.parse(packet.payload)
            if descriptor.partition_start and descriptor.partition_id == 0 and header:
                key_frames.append(not header[0] & 1)
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = observed


@pytest.mark.parametrize("path, codec", [("h264", "h264"), ("vp8", "vp8")])
async def test_the_source_is_opened_for_pass_through(rtsp: str, path: str, codec: str) -> None:
    sources = Sources(f"{rtsp}/{path}", f"{rtsp}/{path}" if codec == "vp8" else "none")
    sources.open()
    try:
        assert (sources.passthrough, sources.video_codec) == (True, codec)
        packet = await asyncio.wait_for(sources.video.track().recv(), 15)
        assert type(packet).__name__ == "Packet" and packet.is_keyframe
        if codec == "vp8":
            audio = await asyncio.wait_for(sources.audio.track().recv(), 15)
            assert type(audio).__name__ == "Packet"  # the camera's Opus, not decoded either
    finally:
        sources.close()


@pytest.mark.parametrize("path, mime", [("h264", "H264"), ("vp8", "VP8")])
async def test_an_rtsp_camera_reaches_the_meeting_without_re_encoding(
        server: RunningServer, tmp_path: Path, rtsp: str, path: str, mime: str) -> None:
    world = await make_world(server.state.sessions, n_delegates=1, at_points=False)
    token_file = tmp_path / "token"
    token_file.write_text(await point_token(server, POINT))
    url = f"{rtsp}/{path}"
    config = build_config({"server": server.url, "point": POINT, "token_file": str(token_file), "video": url,
                           "audio": url if path == "vp8" else "none"}, None)
    chair = await connect_account(server, world.chair, "Chủ tọa", "chair")
    assert (await chair.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
    assert (await chair.call("meeting_open", {}))["ok"]
    media = await chair.call("media:join", {"meeting_id": world.meeting_id})
    assert media["ok"]
    stop = asyncio.Event()
    agent = asyncio.create_task(run_agent(config, stop))
    viewer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frames: list = []
    vp8_frames: list[bool] = []  # per VP8 frame received: is it a key frame
    try:
        tracks = await chair.wait_for("media:tracks", lambda d: any(t["kind"] == "video" for t in d["tracks"]), timeout=60)
        video = next(t for t in tracks["tracks"] if t["kind"] == "video")

        @viewer.on("track")
        def received(track) -> None:  # type: ignore[no-untyped-def]
            async def pull() -> None:
                while True:
                    frames.append(await track.recv())
            if track.kind == "video":
                asyncio.ensure_future(pull())

        ack = await chair.call("media:subscribe", {"meeting_id": world.meeting_id, "track_ids": [video["track_id"]]})
        assert ack["ok"] and ack["offer"], ack
        offered = [line for line in ack["offer"]["sdp"].splitlines() if line.startswith("a=rtpmap:") and "/90000" in line]
        assert offered and all(f" {mime}/90000" in line or "rtx/" in line for line in offered), offered
        await viewer.setRemoteDescription(RTCSessionDescription(ack["offer"]["sdp"], "offer"))
        if path == "vp8":  # aiortc's VP8 decoder does not flag key frames: read them from the RTP payload
            pt = next(int(line.split(":")[1].split()[0]) for line in offered if " VP8/90000" in line)
            _count_vp8_key_frames(viewer.getTransceivers()[0].receiver, pt, vp8_frames)
        await viewer.setLocalDescription(await viewer.createAnswer())
        assert (await chair.call("media:answer", {"meeting_id": world.meeting_id, "sdp": viewer.localDescription.sdp}))["ok"]

        async def decoded(n: int) -> None:
            while len(frames) < n:
                assert not agent.done(), agent
                await asyncio.sleep(0.2)

        await asyncio.wait_for(decoded(45), 60)  # three seconds of the camera, decoded by the viewer
        if path == "vp8":
            assert any(t["kind"] == "audio" and t["source"] == "microphone" for t in tracks["tracks"]) or \
                (await chair.wait_for("media:tracks", lambda d: any(t["kind"] == "audio" for t in d["tracks"]), timeout=20))
    finally:
        stop.set()
        await asyncio.wait_for(agent, 20)
        await viewer.close()
        await chair.disconnect()
    keys = sum(vp8_frames) if path == "vp8" else sum(1 for f in frames if f.key_frame)
    if path == "vp8":
        assert len(vp8_frames) >= len(frames) * 0.9, (len(vp8_frames), len(frames))
        frames = frames[:len(vp8_frames)]
    print(f"rtsp {path}: {len(frames)} frames decoded, {keys} key frames, {frames[-1].width}x{frames[-1].height}")
    assert (frames[-1].width, frames[-1].height) == (320, 240)
    assert keys >= 0.9 * len(frames), f"{keys} key frames of {len(frames)}: the agent re-encoded the camera"


async def test_a_passed_through_camera_gets_a_low_layer_only_while_someone_receives_it(
        server: RunningServer, tmp_path: Path, rtsp: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The RTSP camera's H.264 stays as it came on the high layer (every frame a key frame), and
    a low layer is made from it (decoded, scaled down 3x, VP8 with key frames only now and then);
    once nobody receives the low layer the agent stops decoding the camera."""
    decoded: list[int] = []  # one entry per packet the low layer's decoder takes (observed)
    decode = layers.PacketDecoder.decode

    def observed(self: layers.PacketDecoder, packet: Any) -> list[Any]:
        decoded.append(1)
        return decode(self, packet)

    monkeypatch.setattr(layers.PacketDecoder, "decode", observed)
    caplog.set_level(logging.INFO, logger="hoinghi.bridge.layers")
    withheld = asyncio.Event()
    watcher = _LayerLog(withheld)
    logging.getLogger("hoinghi.bridge.layers").addHandler(watcher)
    world = await make_world(server.state.sessions, n_delegates=1, at_points=False)
    token_file = tmp_path / "token"
    token_file.write_text(await point_token(server, POINT))
    config = build_config({"server": server.url, "point": POINT, "token_file": str(token_file),
                           "video": f"{rtsp}/h264", "audio": "none"}, None)
    chair = await connect_account(server, world.chair, "Chủ tọa", "chair")
    assert (await chair.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
    assert (await chair.call("meeting_open", {}))["ok"]
    assert (await chair.call("media:join", {"meeting_id": world.meeting_id}))["ok"]
    stop = asyncio.Event()
    agent = asyncio.create_task(run_agent(config, stop))
    viewer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    mids: dict[str, str] = {}
    frames: dict[str, list[Any]] = {"high": [], "low": []}
    low_key_frames: list[bool] = []  # per VP8 frame of the low layer received: is it a key frame
    observing: list[Any] = []
    try:
        listed = await chair.wait_for("media:tracks", lambda d: sum(t["kind"] == "video" for t in d["tracks"]) == 2, timeout=60)
        layer_of = {t["track_id"]: t["layer"] for t in listed["tracks"] if t["kind"] == "video"}
        high = next(tid for tid, layer in layer_of.items() if layer == "high")
        low = next(tid for tid, layer in layer_of.items() if layer == "low")

        @viewer.on("track")
        def received(track) -> None:  # type: ignore[no-untyped-def]
            transceiver = next(t for t in viewer.getTransceivers() if t.receiver.track is track)
            layer = layer_of[mids[transceiver.mid]]

            async def pull() -> None:
                while True:
                    frames[layer].append(await track.recv())
            asyncio.ensure_future(pull())

        async def subscribe(track_ids: list[str]) -> None:
            ack = await chair.call("media:subscribe", {"meeting_id": world.meeting_id, "track_ids": track_ids})
            assert ack["ok"] and ack["offer"], ack
            mids.update(ack["offer"]["mids"])
            offered = [line for line in ack["offer"]["sdp"].splitlines() if line.startswith("a=rtpmap:") and "/90000" in line]
            assert any(" H264/90000" in line for line in offered) and any(" VP8/90000" in line for line in offered), offered
            await viewer.setRemoteDescription(RTCSessionDescription(ack["offer"]["sdp"], "offer"))
            if low in track_ids and not observing:  # aiortc's VP8 decoder does not flag key frames
                pt = next(int(line.split(":")[1].split()[0]) for line in offered if " VP8/90000" in line)
                transceiver = next(t for t in viewer.getTransceivers() if mids.get(t.mid) == low)
                _count_vp8_key_frames(transceiver.receiver, pt, low_key_frames)
                observing.append(transceiver)
            await viewer.setLocalDescription(await viewer.createAnswer())
            answer = await chair.call("media:answer", {"meeting_id": world.meeting_id, "sdp": viewer.localDescription.sdp})
            assert answer["ok"], answer

        await subscribe([high, low])

        async def both_decoded(n: int) -> None:
            while min(len(f) for f in frames.values()) < n:
                assert not agent.done(), agent
                await asyncio.sleep(0.2)

        await asyncio.wait_for(both_decoded(20), 60)
        withheld.clear()
        await subscribe([high])  # a thumbnail nobody shows any more: the low layer is not needed
        await asyncio.wait_for(withheld.wait(), 20)
        after = len(decoded)
        high_before = len(frames["high"])
        while len(frames["high"]) < high_before + 30:  # two more seconds of the camera
            assert not agent.done(), agent
            await asyncio.sleep(0.2)
        idle_decodes = len(decoded) - after
    finally:
        logging.getLogger("hoinghi.bridge.layers").removeHandler(watcher)
        stop.set()
        await asyncio.wait_for(agent, 20)
        await viewer.close()
        await chair.disconnect()
    high_keys = sum(1 for f in frames["high"] if f.key_frame)
    low_keys = sum(low_key_frames)
    print(f"rtsp low layer: {len(frames['low'])} frames {frames['low'][-1].width}x{frames['low'][-1].height}, "
          f"{low_keys} key frames; high {len(frames['high'])} frames, {high_keys} key frames; "
          f"{len(decoded)} packets decoded, {idle_decodes} after the low layer was withheld")
    assert (frames["low"][-1].width, frames["low"][-1].height) == (106, 80)  # 320x240 / 3, even
    assert len(low_key_frames) >= 0.9 * len(frames["low"]), (len(low_key_frames), len(frames["low"]))
    assert 1 <= low_keys <= len(low_key_frames) / 3, f"{low_keys} of {len(low_key_frames)}: not re-encoded"
    assert (frames["high"][-1].width, frames["high"][-1].height) == (320, 240)
    assert high_keys >= 0.9 * len(frames["high"]), f"{high_keys} of {len(frames['high'])}: the high layer was re-encoded"
    assert idle_decodes == 0, f"{idle_decodes} packets decoded while nobody received the low layer"


class _LayerLog(logging.Handler):
    """Sets ``withheld`` when the agent logs that it stopped its low layer (observed, nothing changed)."""

    def __init__(self, withheld: asyncio.Event) -> None:
        super().__init__(logging.INFO)
        self._withheld = withheld

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "camera layer low withheld":
            self._withheld.set()
