"""The room's camera as two layers, as a browser sends it (docs/sfu.md, "Large meetings").

aiortc has no simulcast, so a decoded camera is published as two tracks of one peer
connection: ``camera`` (the source's frames, aiortc's encoder at its bitrate) and
``camera-low`` (every other frame scaled down 3x: 320x180 at 12.5 fps from a 960x540 25 fps
camera). The low layer is encoded here, not by aiortc: aiortc's VP8 encoder never aims below
250 kbit/s (and spends that on a 160x90 picture), which with its 96 kbit/s Opus is more than
a 300 kbit/s commune link carries; libvpx through PyAV aims at :data:`LOW_BITRATE` (~120
kbit/s measured for a moving picture at 160x90) and aiortc only packetises what it made,
with a key frame every :data:`LOW_KEYFRAME_S` (aiortc's keyframe requests reach its own
encoder only, so the SFU's switch to this layer waits for the next one). The SFU tells the point which layers anyone receives (``media:layer``);
a layer nobody receives is not encoded or sent, so a commune that is on nobody's big screen
sends its low layer only, and one whose link the SFU judged too thin for the high layer stops
sending it. Passed-through video (H.264/VP8 from RTSP or a file, not decoded here) is one
layer: see docs/sfu.md for what its viewers get.
"""
from __future__ import annotations

import asyncio
import fractions
import logging
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamTrack

log = logging.getLogger("hoinghi.bridge.layers")

LOW_SCALE = 3  # as the browser's scaleResolutionDownBy
LOW_EVERY = 2  # frames of the source per low-layer frame
LOW_BITRATE = 60_000  # libvpx's target; it overshoots about twofold on tiny moving pictures
LOW_KEYFRAME_S = 1.0
VIDEO_CLOCK = fractions.Fraction(1, 90000)


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
        self._encoder = LowEncoder() if low else None

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
                # scaling and encoding take milliseconds: off the event loop, which forwards media
                packet = await asyncio.get_running_loop().run_in_executor(None, self._encoder.encode, frame)
                if packet is not None:
                    return packet

    def stop(self) -> None:
        self._source.stop()
        super().stop()


class LowEncoder:
    """Frames of the camera -> VP8 packets of the low layer (one libvpx context per size)."""

    def __init__(self) -> None:
        self._codec: Any = None
        self._fps = 15

    def encode(self, frame: Any) -> Any:
        width, height = max(2, frame.width // LOW_SCALE // 2 * 2), max(2, frame.height // LOW_SCALE // 2 * 2)
        if self._codec is None or (self._codec.width, self._codec.height) != (width, height):
            self._codec = _vp8(width, height, self._fps)
        scaled = frame.reformat(width=width, height=height, format="yuv420p")
        pts = int(frame.pts * frame.time_base / VIDEO_CLOCK) if frame.pts is not None and frame.time_base else None
        scaled.pts, scaled.time_base = pts, VIDEO_CLOCK
        packets = self._codec.encode(scaled)
        if not packets:
            return None
        packet = packets[0]
        packet.pts, packet.time_base = pts, VIDEO_CLOCK
        return packet


def _vp8(width: int, height: int, fps: int) -> Any:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base, codec.framerate = VIDEO_CLOCK, fractions.Fraction(fps, 1)
    codec.bit_rate, codec.gop_size = LOW_BITRATE, round(fps * LOW_KEYFRAME_S)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                     "maxrate": str(LOW_BITRATE), "bufsize": str(LOW_BITRATE), "undershoot-pct": "100"}
    return codec


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
                log.info("camera layer %s %s", "low" if track is self.low else "high", "sent" if needed else "withheld")
                track.set_needed(needed)

    def stop(self) -> None:
        for track in self._transceivers:
            track.stop()
