"""The room's camera as two layers, as a browser sends it (docs/sfu.md, "Large meetings").

aiortc has no simulcast, so a decoded camera is published as two tracks of one peer
connection: ``camera`` (the source's frames, aiortc's encoder at its bitrate) and
``camera-low`` (every other frame scaled down 3x: 320x180 at 12.5 fps from a 960x540 25 fps
camera, ~100 kbit/s). The SFU tells the point which layers anyone receives (``media:layer``);
a layer nobody receives is not encoded or sent, so a commune that is on nobody's big screen
sends its low layer only, and one whose link the SFU judged too thin for the high layer stops
sending it. Passed-through video (H.264/VP8 from RTSP or a file, not decoded here) is one
layer: see docs/sfu.md for what its viewers get.
"""
from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamTrack

LOW_SCALE = 3  # as the browser's scaleResolutionDownBy
LOW_EVERY = 2  # frames of the source per low-layer frame


class LayerTrack(MediaStreamTrack):
    """One camera layer: frames of a session's feed (for the low layer scaled down and
    thinned), withheld while nobody receives the layer."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, low: bool) -> None:
        super().__init__()
        self._source = source
        self._low = low
        self._count = 0
        self._sending = asyncio.Event()
        self._sending.set()  # until the SFU says otherwise, as browsers start

    @property
    def sending(self) -> bool:
        return self._sending.is_set()

    def set_needed(self, needed: bool) -> None:
        if needed:
            self._sending.set()
        else:
            self._sending.clear()

    async def recv(self) -> Any:
        while True:
            frame = await self._source.recv()  # read on while withheld: no frames pile up
            if not self._sending.is_set():
                continue
            self._count += 1
            if not self._low:
                return frame
            if self._count % LOW_EVERY == 0:
                # scaling a 960x540 frame takes ~1 ms: off the event loop, which forwards media
                return await asyncio.get_running_loop().run_in_executor(None, _scaled, frame)

    def stop(self) -> None:
        self._source.stop()
        super().stop()


def _scaled(frame: Any) -> Any:
    width, height = max(2, frame.width // LOW_SCALE // 2 * 2), max(2, frame.height // LOW_SCALE // 2 * 2)
    scaled = frame.reformat(width=width, height=height, format="yuv420p")
    scaled.pts, scaled.time_base = frame.pts, frame.time_base
    return scaled


class CameraLayers:
    """The two camera transceivers of a publish connection and the demand for each."""

    def __init__(self, pc: RTCPeerConnection, high: MediaStreamTrack, low: MediaStreamTrack) -> None:
        self.high, self.low = LayerTrack(high, low=False), LayerTrack(low, low=True)
        self._transceivers: dict[LayerTrack, RTCRtpTransceiver] = {
            track: pc.addTransceiver(track, direction="sendonly") for track in (self.high, self.low)}

    def sources(self) -> dict[str, str]:
        """mid -> source name for media:publish (after the offer gave the mids)."""
        return {self._transceivers[self.high].mid: "camera", self._transceivers[self.low].mid: "camera-low"}

    def on_layer(self, track_id: str, needed: bool) -> None:
        """media:layer: ``track_id`` is '<peer id>:<mid>'."""
        mid = track_id.rsplit(":", 1)[-1]
        for track, transceiver in self._transceivers.items():
            if transceiver.mid == mid:
                track.set_needed(needed)

    def stop(self) -> None:
        for track in self._transceivers:
            track.stop()
