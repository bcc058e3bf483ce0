"""A bridge point on a thin, lossy uplink (marker netns): the agent `hoinghi bridge` in its own
namespace (tests/weak_links.py) publishes a decoded camera as two layers; its link then loses
5 % of its packets at random and is capped at 300 kbit/s. The SFU judges the point's uplink
too thin for the high layer (sfu/uplink.py), forwards its low layer and the point stops
sending the high one: a delegate's browser outside keeps decoding the point's video at
≥ 10 frames per second, keeps hearing it, and keeps receiving the speaker's video at
≥ 10 frames per second. A browser's low layer, which nobody receives here, is not sent."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.bridge.test_netns import _page
from tests.conftest import REPO
from tests.e2e.conftest import browser  # noqa: F401  (the fixture)
from tests.e2e.harness import Deployment, serving
from tests.e2e.test_meeting_browser import Client, wait_for
from tests.weak_links import WeakHost, weak_host  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.netns, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]
ARTIFACTS = REPO / "test-artifacts" / "weak-links"
POINT_NAME = "Điểm cầu xã A"
HIGH_WIDTH, LOW_WIDTH = 480, 160  # the agent's camera and its low layer (a third)
LOSS, CAP_KBIT = 0.05, 300
WINDOW_S = 20.0  # long enough to include one probe of the high layer (sfu/uplink.py)
MIN_FPS = 10.0
HEARD_LEVEL = 0.004  # RMS; silence is ~0, the point's quiet tone arrives at ~0.01


@pytest.fixture
def deployment(tmp_path: Path, weak_host: WeakHost) -> Iterator[Deployment]:  # noqa: F811
    yield from serving(Deployment(root=tmp_path / "hoinghi", host=weak_host.server_address))


def _room_camera(path: Path) -> Path:
    """A camera the agent must decode (MPEG-4 Part 2: neither VP8 nor H.264, so not passed
    through): ffmpeg's bars with a moving square, 480x270 at 30 fps, and a 440 Hz tone
    quieter than the browsers' (so a browser is the speaker); looped and paced by the agent."""
    graph = (f"smptebars=size={HIGH_WIDTH}x270:rate=30[a];color=white:size=24x24:rate=30[b];"
             "[a][b]overlay=x='mod(n*3,440)':y=100")
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", graph,
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
         "-c:v", "mpeg4", "-q:v", "4", "-af", "volume=0.2", "-c:a", "pcm_s16le", str(path)],
        check=True, timeout=120)
    return path


def _agent(host: WeakHost, deployment: Deployment, tmp_path: Path) -> subprocess.Popen:
    token = tmp_path / "point-token"
    token.write_text(deployment.point_tokens["xa-a"])
    camera = _room_camera(tmp_path / "room.mkv")
    log = open(tmp_path / "agent.log", "wb")
    return host.run(
        [sys.executable, "-m", "web.cli", "bridge", "--server", deployment.url, "--point", "xa-a",
         "--token-file", str(token), "--video", str(camera), "--audio", str(camera),
         "--ca-file", str(deployment.certificate), "--log-level", "INFO"],
        cwd=REPO, env=dict(os.environ, HOINGHI_LANG="vi", PYTHONPATH=str(REPO)), stdout=log, stderr=subprocess.STDOUT,
    )


def _tile(client: Client, name: str) -> dict[str, Any]:
    return client.remote_tiles().get(name) or {}


RECEIVED = """(async () => {
  const m = window.hoinghi.media, out = {};
  if (!m.sub) return out;
  (await m.sub.pc.getStats()).forEach((s) => {
    const trackId = s.type === "inbound-rtp" ? m.mids[s.mid] : null;
    if (trackId) out[trackId] = { kind: s.kind, frames: s.framesDecoded || 0, width: s.frameWidth || 0,
                                  packets: s.packetsReceived || 0, energy: s.totalAudioEnergy || 0 };
  });
  return out;
})()"""


def _received(client: Client, peer_id: str) -> dict[str, dict[str, Any]]:
    """What the page's subscribe connection decodes of ``peer_id``, by kind (inbound-rtp)."""
    return {entry["kind"]: entry for track_id, entry in client.page.evaluate(RECEIVED).items()
            if track_id.split(":")[0] == peer_id}


LOW_LAYER_BYTES = """(async () => {
  const pub = window.hoinghi.media.pub;
  if (!pub || !pub.lowTx || !pub.lowTx.mid) return null;
  let bytes = null;
  (await pub.pc.getStats()).forEach((s) => { if (s.type === "outbound-rtp" && s.mid === pub.lowTx.mid) bytes = s.bytesSent; });
  return bytes;
})()"""


def test_a_point_on_a_thin_lossy_uplink_is_still_seen_and_heard(
        deployment: Deployment, weak_host: WeakHost, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    chair = _page(browser, deployment, "chutoa")
    delegate = _page(browser, deployment, "daibieu")
    assert chair.page.evaluate("window.hoinghi.socket.emitWithAck('meeting_open', {})")["ok"]
    delegate.page.locator("#btn-mic").click()  # the chair speaks, the delegate listens
    chair_name = next(p.name for p in deployment.people if p.username == "chutoa")
    agent = _agent(weak_host, deployment, tmp_path)
    try:
        def seen(width: int) -> Any:
            tile = _tile(delegate, POINT_NAME)
            return (tile.get("frames", 0) > 40 and tile.get("width") == width
                    and tile.get("audio_max", 0) >= HEARD_LEVEL) or f"tile: {tile}"

        wait_for("the delegate to see the point's high layer and hear it", lambda: seen(HIGH_WIDTH), 120)
        chair_tile = delegate.remote_tiles()[chair_name]
        wait_for("the chair to be the speaker", lambda: delegate.page.evaluate(
            "window.hoinghi.tiles.activeSpeaker") == chair_tile["peer_id"] or str(
                (delegate.page.evaluate("window.hoinghi.tiles.activeSpeaker"),
                 {t["name"]: (t["peer_id"], t["audio_level"]) for t in delegate.remote_tiles().values()})), 30)

        point = _tile(delegate, POINT_NAME)["peer_id"]
        before = _received(delegate, point)["video"]["frames"]
        time.sleep(5)  # (a window measured: the frame rate before the faults, for comparison)
        fps_before = (_received(delegate, point)["video"]["frames"] - before) / 5
        print(f"netns uplink: the point at {fps_before:.1f} fps before the faults", flush=True)
        weak_host.lose(LOSS)
        weak_host.cap_uplink(CAP_KBIT)
        capped = time.monotonic()
        wait_for("the delegate to decode the point's low layer",
                 lambda: _received(delegate, point)["video"]["width"] == LOW_WIDTH or str(_received(delegate, point)), 60)
        switched_after = time.monotonic() - capped

        # a window of WINDOW_S: what the delegate decodes and hears
        start = {"point": _received(delegate, point), "speaker": _received(delegate, chair_tile["peer_id"])}
        drops0, low0 = weak_host.uplink_drops(), chair.page.evaluate(LOW_LAYER_BYTES)
        began = time.monotonic()
        widths, levels = set(), []
        while time.monotonic() - began < WINDOW_S:
            widths.add(_received(delegate, point)["video"]["width"])
            levels.append(_tile(delegate, POINT_NAME).get("audio_level", 0))
            time.sleep(0.25)
        seconds = time.monotonic() - began
        end = {"point": _received(delegate, point), "speaker": _received(delegate, chair_tile["peer_id"])}
        drops, low_bytes = weak_host.uplink_drops() - drops0, chair.page.evaluate(LOW_LAYER_BYTES)

        def rate(who: str, kind: str, key: str) -> float:
            return (end[who][kind][key] - start[who][kind][key]) / seconds

        point_fps, speaker_fps = rate("point", "video", "frames"), rate("speaker", "video", "frames")
        audio_pps = rate("point", "audio", "packets")
        heard = sum(1 for level in levels if level >= HEARD_LEVEL) / len(levels)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        delegate.page.screenshot(path=str(ARTIFACTS / "point-on-a-weak-uplink.png"))
        print(f"netns uplink: {LOSS:.0%} loss + {CAP_KBIT} kbit/s: low layer {switched_after:.1f} s after the cap; "
              f"over {seconds:.1f} s the point decoded at {point_fps:.1f} fps (widths {widths}), its audio at "
              f"{audio_pps:.0f} packets/s, heard in {heard:.0%} of samples; the speaker ({chair_name}) at "
              f"{speaker_fps:.1f} fps; the cap dropped {drops} packets; the chair's unneeded low layer sent "
              f"{None if low0 is None else low_bytes - low0} bytes")
        assert widths == {LOW_WIDTH}, widths
        assert point_fps >= MIN_FPS, point_fps
        assert audio_pps >= 40 and heard >= 0.8, (audio_pps, heard)  # 50 packets/s sent
        assert speaker_fps >= MIN_FPS, speaker_fps
        assert delegate.page.evaluate("window.hoinghi.tiles.activeSpeaker") == chair_tile["peer_id"]
        # nobody receives the chair's low layer in a meeting this small: it is not sent
        assert low0 is not None and low_bytes == low0, (low0, low_bytes)
    except BaseException:
        print((tmp_path / "agent.log").read_text(errors="replace")[-3000:])
        for log in sorted(deployment.root.glob("server-*.log")):
            print("\n".join(line for line in log.read_text(errors="replace").splitlines()
                            if "uplink" in line or "layer" in line or "Error" in line)[-4000:])
        raise
    finally:
        agent.terminate()
        try:
            agent.wait(15)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        for client in (chair, delegate):
            client.page.context.close()
