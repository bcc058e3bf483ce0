"""The bridge-point agent on loopback: real server, real aiortc on both sides, a file as the room's camera."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bridge.agent import Backoff, run_agent
from bridge.config import build_config
from tests.bridge.media_files import room_recording
from tests.conftest import RunningServer
from tests.control.conftest import POINT, connect_account, point_token
from tests.control.helpers import make_world
from tests.sfu.clients import ToneTrack

REPO = Path(__file__).resolve().parents[2]
SIGTERM_WITHIN_S = 5.0  # measured 0.1-3 s in a meeting (the agent's own steps ~0.1 s) on the loaded shared box


def hoinghi_bridge(*args: str, lang: str = "vi") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", "bridge", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, HOINGHI_LANG=lang), cwd=REPO)


def test_bad_arguments_and_sources_get_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("hnp_abc\n")
    (tmp_path / "room.webm").write_bytes(b"\x1aE\xdf\xa3 not a token")
    base = ("--server", "http://127.0.0.1:9", "--point", POINT, "--token-file", str(token))
    cases = [
        ((), "vi", "Lỗi dữ liệu nhập: --server: thiếu tham số"),
        (("--server", "ftp://x", "--point", POINT, "--token-file", str(token), "--video", "none", "--audio", "x.wav"), "vi",
         "--server ftp://x: phải là địa chỉ http:// hoặc https://"),
        ((*base[:4], "--token-file", str(tmp_path / "missing"), "--audio", "a.wav"), "en", "cannot read the token file"),
        ((*base, "--video", "none", "--audio", "none"), "vi", "cần ít nhất một nguồn"),
        ((*base[:4], "--token-file", str(tmp_path / "room.webm"), "--audio", "a.wav"), "vi",
         "tệp mã truy cập rỗng hoặc không phải mã hnp_"),
        ((*base, "--video", str(tmp_path / "khong-co.webm")), "vi", "Không mở được nguồn: "),
        ((*base, "--video", "rtsp://127.0.0.1:9/cam"), "en", "Cannot open source: rtsp://127.0.0.1:9/cam"),
        ((*base, "--video", "camera:1"), "vi", "không hiểu nguồn 'camera:1'"),
        ((*base, "--video", "lavfi:testsrc", "--record", "screen:0"), "en", "unknown output 'screen:0'"),
        ((*base, "--video", "lavfi:testsrc", "--max-backoff", "0"), "vi", "--max-backoff: phải là một số dương"),
        (("--bogus",), "vi", "Lỗi dữ liệu nhập: không có tham số này: --bogus"),
    ]
    for args, lang, expected in cases:
        result = hoinghi_bridge(*args, lang=lang)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)


def test_backoff_doubles_up_to_its_ceiling_with_jitter() -> None:
    backoff = Backoff(maximum=4.0, first=0.5)
    delays = [backoff.next() for _ in range(12)]
    ceilings = [min(4.0, 0.5 * 2**i) for i in range(12)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings)), delays
    assert len({round(d, 6) for d in delays[4:]}) > 1  # jittered, not all the same
    backoff.reset()
    assert backoff.next() <= 0.5


async def _publish_tone(server: RunningServer, account: int, name: str, meeting_id: int) -> tuple[Any, RTCPeerConnection]:
    """A delegate on their own device speaking a tone (aiortc, as a browser would)."""
    client = await connect_account(server, account, name)
    assert (await client.call("join_meeting", {"meeting_id": meeting_id}))["ok"]
    assert (await client.call("media:join", {"meeting_id": meeting_id}))["ok"]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(ToneTrack(0.5), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    ack = await client.call("media:publish", {"meeting_id": meeting_id, "sdp": pc.localDescription.sdp,
                                              "sources": {pc.getTransceivers()[0].mid: "microphone"}})
    assert ack["ok"], ack
    await pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
    return client, pc


@pytest.mark.slow
async def test_the_agent_publishes_its_file_reports_health_and_plays_the_meeting(server: RunningServer, tmp_path: Path) -> None:
    world = await make_world(server.state.sessions, n_delegates=2, at_points=False)
    token_file = tmp_path / "token"
    token_file.write_text(await point_token(server, POINT))
    recording = room_recording(tmp_path / "room.webm")
    heard = tmp_path / "meeting.wav"
    config = build_config({
        "server": server.url, "point": POINT, "token_file": str(token_file), "video": str(recording),
        "audio": str(recording), "audio_out": str(heard), "record": str(tmp_path / "speaker.mp4"),
    }, None)
    chair = await connect_account(server, world.chair, "Chủ tọa", "chair")
    assert (await chair.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
    assert (await chair.call("meeting_open", {}))["ok"]
    delegate, tone = await _publish_tone(server, world.delegates[0], "Đại biểu", world.meeting_id)
    stop = asyncio.Event()
    agent = asyncio.create_task(run_agent(config, stop))
    try:
        tracks = await chair.wait_for("media:tracks", lambda d: len(d["tracks"]) == 4, timeout=30)
        by_point = [t for t in tracks["tracks"] if t["peer_id"] != delegate.get_sid()]
        # the file's VP8 passed through as the high layer, and a low layer made from it
        assert sorted((t["kind"], t["source"], t["layer"]) for t in by_point) == [
            ("audio", "microphone", "high"), ("video", "camera", "high"), ("video", "camera", "low")]
        status = await chair.wait_for("points_status", lambda d: any(
            p["id"] == POINT and p["online"] and p["media"] and (p["bitrate_out_kbps"] or 0) > 50 and (p["fps"] or 0) > 5
            for p in d["points"]), timeout=30)
        point = next(p for p in status["points"] if p["id"] == POINT)
        assert point["client"] == "agent" and (point["bitrate_in_kbps"] or 0) > 5  # the delegate's tone comes in
    finally:
        stop.set()
        await asyncio.wait_for(agent, 20)
        await tone.close()
        await delegate.disconnect()
        await chair.disconnect()
    with wave.open(str(heard)) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (48000, 2)
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert samples.size > 48000 and np.abs(samples).max() > 3000  # the delegate's tone was heard in the room
    assert (tmp_path / "speaker.mp4").stat().st_size > 1000


async def test_vp8_from_a_file_is_passed_through_and_a_raw_source_is_encoded(tmp_path: Path) -> None:
    from bridge.sources import Sources

    recording = room_recording(tmp_path / "room.webm", seconds=2)
    passed = Sources(str(recording), str(recording))
    passed.open()
    try:
        assert (passed.passthrough, passed.video_codec) == (True, "vp8")
        frame = await asyncio.wait_for(passed.video.track().recv(), 10)
        assert type(frame).__name__ == "Packet"  # not decoded: aiortc sends it as it is
    finally:
        passed.close()
    encoded = Sources("lavfi:testsrc=size=320x240:rate=10", "lavfi:sine=frequency=300")
    encoded.open()
    try:
        assert not encoded.passthrough
        assert type(await asyncio.wait_for(encoded.video.track().recv(), 10)).__name__ == "VideoFrame"
    finally:
        encoded.close()


async def test_a_looping_file_is_paced_to_real_time_with_rising_timestamps(tmp_path: Path) -> None:
    from bridge.sources import Sources

    recording = room_recording(tmp_path / "short.webm", seconds=1)
    sources = Sources(str(recording), "none")
    sources.open()
    try:
        track = sources.video.track()
        loop = asyncio.get_running_loop()
        started, times = loop.time(), []
        for _ in range(45):  # three passes of a 1 s file at 15 fps
            packet = await asyncio.wait_for(track.recv(), 10)
            times.append(float(packet.pts * packet.time_base))
        elapsed = loop.time() - started
    finally:
        sources.close()
    assert all(b > a for a, b in zip(times, times[1:])), times
    assert elapsed >= times[-1] - times[0] - 0.2  # not read ahead at full speed after the first pass


class AgentProcess:
    """`hoinghi bridge` as a real process, its output collected line by line as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process, self.lines = process, []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, *args: str) -> "AgentProcess":
        return cls(await asyncio.create_subprocess_exec(
            sys.executable, "-m", "web.cli", "bridge", *args, cwd=REPO, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(os.environ, HOINGHI_LANG="en")))

    async def _read(self) -> None:
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace"))
            self._changed.set()
        self._changed.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def until(self, wanted: str, timeout: float) -> None:
        async def seen() -> None:
            while wanted not in self.output:
                assert not self._reader.done(), f"the agent ended before {wanted!r}: {self.output}"
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(seen(), timeout)

    async def ended(self, timeout: float) -> int:
        try:
            await asyncio.wait_for(asyncio.gather(self.process.wait(), self._reader), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the agent did not end within {timeout} s: {self.output[-6000:]}") from None
        return self.process.returncode

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


@pytest.mark.slow
async def test_sigterm_in_a_meeting_ends_the_agent_within_seconds_with_exit_0(server: RunningServer, tmp_path: Path) -> None:
    world = await make_world(server.state.sessions, n_delegates=1, at_points=False)
    token_file = tmp_path / "token"
    token_file.write_text(await point_token(server, POINT))
    recording = room_recording(tmp_path / "room.webm", seconds=3)
    chair = await connect_account(server, world.chair, "Chủ tọa", "chair")
    assert (await chair.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
    assert (await chair.call("meeting_open", {}))["ok"]
    delegate, tone = await _publish_tone(server, world.delegates[0], "Đại biểu", world.meeting_id)
    agent = await AgentProcess.start(
        "--server", server.url, "--point", POINT, "--token-file", str(token_file), "--video", str(recording),
        "--audio", str(recording), "--audio-out", str(tmp_path / "heard.wav"), "--record", str(tmp_path / "speaker.mp4"),
        "--log-level", "DEBUG")
    try:
        await agent.until("Joined meeting", 120)
        await chair.wait_for("points_status", lambda d: any(p["id"] == POINT and p["online"] and p["media"] for p in d["points"]), timeout=90)
        agent.process.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        signalled = loop.time()
        returncode = await agent.ended(30)
        took = loop.time() - signalled
        print(f"sigterm: the agent ended {took:.2f} s after SIGTERM; its own steps: {''.join(agent.lines[-7:])}")
        assert returncode == 0, agent.output[-4000:]
        assert took < SIGTERM_WITHIN_S, agent.output[-4000:]
        assert "Bridge-point agent stopped." in agent.output
        await chair.wait_for("points_status", lambda d: any(p["id"] == POINT and not p["online"] for p in d["points"]), timeout=30)
    finally:
        await agent.kill()
        await tone.close()
        await delegate.disconnect()
        await chair.disconnect()
    assert (tmp_path / "speaker.mp4").stat().st_size > 1000  # the recording was closed properly (its index written)
