"""The agent's local screen (--display) for real: Xvfb as the room's TV, a delegate's camera in
the meeting, and a screenshot of the X display (ffmpeg's x11grab through PyAV) that must show
the delegate's picture full screen with their name. Screenshot: test-artifacts/bridge/display-*.png."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import av
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bridge.agent import run_agent
from bridge.config import build_config
from bridge.texts import AgentError
from tests.bridge.media_files import room_recording
from tests.conftest import REPO, RunningServer
from tests.control.conftest import POINT, connect_account, point_token
from tests.control.helpers import make_world
from tests.sfu.clients import ColourTrack

pytestmark = [pytest.mark.slow]
ARTIFACTS = REPO / "test-artifacts" / "bridge"
SCREEN = (1280, 720)
RED = (220, 30, 30)


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A real X server without a monitor (Xvfb), as the room's TV."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (scripts/lib.sh TEST_PACKAGES: xvfb)")
    for number in range(120, 160):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    name = f":{number}"
    ready_r, ready_w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", name, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp",
                             "-displayfd", str(ready_w)], pass_fds=(ready_w,), stderr=subprocess.DEVNULL)
    os.close(ready_w)
    with os.fdopen(ready_r) as ready:
        assert ready.readline().strip() == name[1:], "Xvfb did not start"  # it writes its number once it listens
    try:
        yield name
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def screenshot(display: str) -> np.ndarray:
    with av.open(display, format="x11grab", options={"video_size": f"{SCREEN[0]}x{SCREEN[1]}"}) as grab:
        frame = next(grab.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def test_a_screen_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("hnp_x")
    config = build_config({"server": "http://127.0.0.1:9", "point": POINT, "token_file": str(token),
                           "video": "lavfi:testsrc", "display": ":97"}, None)
    with pytest.raises(AgentError) as refused:
        asyncio.run(run_agent(config, asyncio.Event()))
    assert "--display :97" in str(refused.value) and "màn hình" in str(refused.value)


async def test_the_room_screen_shows_the_active_speaker_full_screen_with_their_name(
        server: RunningServer, tmp_path: Path, x_display: str) -> None:
    world = await make_world(server.state.sessions, n_delegates=1, at_points=False)
    token_file = tmp_path / "token"
    token_file.write_text(await point_token(server, POINT))
    recording = room_recording(tmp_path / "room.webm", seconds=3)
    config = build_config({"server": server.url, "point": POINT, "token_file": str(token_file), "video": str(recording),
                           "audio": "none", "display": x_display}, None)
    chair = await connect_account(server, world.chair, "Chủ tọa", "chair")
    assert (await chair.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
    assert (await chair.call("meeting_open", {}))["ok"]
    delegate = await connect_account(server, world.delegates[0], "Nguyễn Thị Hương")
    assert (await delegate.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
    assert (await delegate.call("media:join", {"meeting_id": world.meeting_id}))["ok"]
    camera = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    camera.addTransceiver(ColourTrack(RED, size=(640, 360)), direction="sendonly")
    await camera.setLocalDescription(await camera.createOffer())
    ack = await delegate.call("media:publish", {"meeting_id": world.meeting_id, "sdp": camera.localDescription.sdp,
                                                "sources": {camera.getTransceivers()[0].mid: "camera"}})
    assert ack["ok"], ack
    await camera.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
    stop = asyncio.Event()
    agent = asyncio.create_task(run_agent(config, stop))
    loop = asyncio.get_running_loop()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    last: list[np.ndarray] = []
    try:
        async def red_on_screen() -> np.ndarray:
            while True:
                assert not agent.done(), agent
                image = await loop.run_in_executor(None, screenshot, x_display)
                last[:] = [image]
                middle = image[SCREEN[1] // 3: SCREEN[1] // 2, SCREEN[0] // 4: SCREEN[0] * 3 // 4].reshape(-1, 3)
                if np.mean(np.all(np.abs(middle.astype(int) - RED) < 40, axis=1)) > 0.6:
                    return image
                await asyncio.sleep(0.3)

        image = await asyncio.wait_for(red_on_screen(), 60)
    except BaseException:
        if last:
            av.VideoFrame.from_ndarray(last[0], format="rgb24").to_image().save(ARTIFACTS / "display-failure.png")
        raise
    finally:
        stop.set()
        await asyncio.wait_for(agent, 20)
        await camera.close()
        await delegate.disconnect()
        await chair.disconnect()
    av.VideoFrame.from_ndarray(image, format="rgb24").to_image().save(ARTIFACTS / "display-active-speaker.png")
    # full screen: a 16:9 picture on a 16:9 screen fills it edge to edge (no window, no frame)
    assert np.all(np.abs(image[5, SCREEN[0] // 2].astype(int) - RED) < 40), image[5, SCREEN[0] // 2]
    # the name on a dark band near the bottom: white text pixels there, none in the red middle
    band = image[int(SCREEN[1] * 0.80): int(SCREEN[1] * 0.95)]
    assert np.sum(np.all(band > 230, axis=2)) > 500, "no caption drawn"
    assert np.mean(band) < np.mean(image[SCREEN[1] // 3: SCREEN[1] // 2]) + 40
