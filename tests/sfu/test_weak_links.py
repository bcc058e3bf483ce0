"""Weak links between the SFU and a receiver on another host (marker netns: a namespace joined
by veth, tests/weak_links.py): a receiver behind a 300 kbit/s cap gets the speaker's low camera
layer, and the high layer again within 10 s after the cap is lifted (sfu/downlink.py)."""
from __future__ import annotations

import asyncio
import fractions
import json
import sys
import time
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import MediaStreamTrack

from sfu import ACTIVE_SPEAKER, Sfu
from tests.sfu.clients import ToneTrack, publish, wait_for
from tests.weak_links import WeakHost, weak_host  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.timeout(300)]
RECEIVER = Path(__file__).with_name("netns_receiver.py")
HIGH, LOW = (480, 270), (160, 90)
CAP_KBIT = 300
BACK_WITHIN_S = 10.0


class BarsTrack(MediaStreamTrack):
    """ffmpeg's test bars at ``size`` and ``fps``: aiortc encodes the high layer at ~300 kbit/s
    and more (more than the cap lets through), the low one at ~80 kbit/s."""

    kind = "video"

    def __init__(self, size: tuple[int, int], fps: int) -> None:
        super().__init__()
        container = av.open(f"smptebars=size={size[0]}x{size[1]}:rate={fps}", format="lavfi")
        self._frame = next(container.decode(video=0)).reformat(format="yuv420p")
        container.close()
        self._fps, self._n, self._start = fps, 0, time.monotonic()

    async def recv(self) -> Any:
        await asyncio.sleep(max(0.0, self._start + self._n / self._fps - time.monotonic()))
        frame = self._frame.reformat(format="yuv420p")  # a new frame object per send
        frame.pts, frame.time_base = self._n * 90000 // self._fps, fractions.Fraction(1, 90000)
        self._n += 1
        return frame


class Receiver:
    """tests/sfu/netns_receiver.py in the namespace: what it decodes, as it reports it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.latest: dict[str, int] = {"frames": 0, "width": 0}
        self.history: list[tuple[float, int, int]] = []  # (time, frames, width)

    async def answer(self, offer: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"offer": offer}).encode() + b"\n")
        await self.process.stdin.drain()
        return json.loads(await asyncio.wait_for(self.process.stdout.readline(), 30))["answer"]

    async def follow(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.latest = json.loads(line)
            self.history.append((time.monotonic(), self.latest["frames"], self.latest["width"]))

    def frames_at(self, width: int) -> int:
        """Frames decoded at ``width`` so far."""
        return sum(f1 - f0 for (_, f0, _), (_, f1, w) in zip(self.history, self.history[1:]) if w == width)

    def steady(self, width: int, seconds: float) -> float | None:
        """When the receiver started decoding ``width`` without a break for ``seconds``
        until now, frames still coming; None if it has not."""
        now = time.monotonic()
        run = None
        for at, _, seen in self.history:
            run = (run if run is not None else at) if seen == width else None
        if run is None or now - run < seconds:
            return None
        frames = [f for at, f, _ in self.history if at >= now - 1.0]
        return run if len(frames) > 1 and frames[-1] > frames[0] else None


async def test_a_receiver_behind_a_300_kbit_cap_gets_the_low_layer_and_the_high_one_again_within_10_s(
        weak_host: WeakHost) -> None:  # noqa: F811
    sfu = Sfu()  # after the namespace: ICE offers the veth's address too
    publisher = await publish(sfu, "r", "pub", BarsTrack(HIGH, 30), BarsTrack(LOW, 15), ToneTrack(0.3),
                              sources={"0": "camera", "1": "camera-low", "2": "microphone"})
    process = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", weak_host.namespace, sys.executable, str(RECEIVER),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    receiver = Receiver(process)
    follower = None
    try:
        await wait_for(lambda: sfu._rooms["r"].active_speaker == "pub", timeout=30)
        await sfu.join("r", "rx")
        offer = await sfu.subscribe("r", "rx", [ACTIVE_SPEAKER])
        await sfu.answer("r", "rx", await receiver.answer(offer))
        follower = asyncio.ensure_future(receiver.follow())
        downlink = sfu._rooms["r"].peers["rx"].subscribe.downlink

        await wait_for(lambda: receiver.steady(HIGH[0], 2.0) is not None, timeout=60)
        weak_host.cap_downlink(CAP_KBIT)
        capped = time.monotonic()
        # (aiortc's receiver flushes a frame the cap left incomplete only after 128 newer
        # packets: it starts decoding a switched stream seconds after the SFU switched it)
        await wait_for(lambda: receiver.frames_at(LOW[0]) >= 30, timeout=60)
        low_after = next(at for at, _, w in receiver.history if w == LOW[0]) - capped

        weak_host.lift_downlink()
        lifted = time.monotonic()
        await wait_for(lambda: receiver.steady(HIGH[0], 3.0) is not None, timeout=30)
        back_after = receiver.steady(HIGH[0], 3.0) - lifted  # type: ignore[operator]
        print(f"netns downlink: low layer {low_after:.1f} s after the {CAP_KBIT} kbit/s cap, "
              f"high again {back_after:.1f} s after lifting it ({downlink.switches} switches)")
        assert back_after <= BACK_WITHIN_S, receiver.history[-40:]
    except BaseException:
        print("receiver:", receiver.history[-30:], "downlink:", downlink.layer, downlink.loss,
              downlink.remb_bps, downlink.switches)
        raise
    finally:
        if follower is not None:
            follower.cancel()
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
        await publisher.close()
        await sfu.close()
