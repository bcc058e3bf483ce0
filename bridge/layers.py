"""The room's camera as two layers, as a browser sends it (docs/sfu.md, "Large meetings").

aiortc has no simulcast, so a decoded camera is published as two tracks of one peer
connection: ``camera`` (the source's frames, aiortc's encoder at its bitrate) and
``camera-low`` (the frames scaled down 3x, at most :data:`LOW_MAX_FPS` per second: 320x180 at
25 fps from a 960x540 25 fps camera). The low layer is encoded here, not by aiortc: aiortc's VP8 encoder never aims below
250 kbit/s (and spends that on a 160x90 picture), which with its 96 kbit/s Opus is more than
a 300 kbit/s commune link carries; libvpx through PyAV aims at :data:`LOW_BITRATE` (~120
kbit/s measured for a moving picture at 160x90) and aiortc only packetises what it made,
with a key frame every :data:`LOW_KEYFRAME_S` and whenever a viewer asks (PLI, which aiortc
would pass to its own encoder only). The SFU tells the point which layers anyone receives (``media:layer``);
a layer nobody receives is not encoded or sent, so a commune that is on nobody's big screen
sends its low layer only, and one whose link the SFU judged too thin for the high layer stops
sending it. Passed-through video (H.264/VP8 from RTSP or a file) keeps its packets as the
camera made them for the high layer; for the low layer they are decoded here (in a worker
thread: a 1080p H.264 frame costs milliseconds) and re-encoded small, only while someone
receives it, from the camera's next key frame on.
"""
from __future__ import annotations

import asyncio
import fractions
import logging
import math
from typing import Any

import av
from av.video.frame import PictureType
from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamTrack

log = logging.getLogger("hoinghi.bridge.layers")

LOW_SCALE = 3  # as the browser's scaleResolutionDownBy
LOW_MAX_WIDTH = 320  # a larger camera (an IP camera's 1080p) is scaled down further
# The low layer keeps the camera's frame rate up to this: at 160x90-320x180 a frame costs
# little, and at 15 fps (what browsers send) a point on a lossy link fell to ~10 fps decoded
# whenever a probe of its high layer lost a few seconds (docs/sfu.md, "The bridge-point agent's layers")
LOW_MAX_FPS = 30
LOW_BITRATE = 60_000  # libvpx's target; it overshoots about twofold on tiny moving pictures
LOW_KEYFRAME_S = 1.0
VIDEO_CLOCK = fractions.Fraction(1, 90000)


class LayerTrack(MediaStreamTrack):
    """One camera layer: frames of a session's feed (for the low layer scaled down and
    thinned), withheld while nobody receives the layer. A ``passthrough`` feed carries the
    camera's packets: the high layer sends them as they are, the low layer decodes them."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, low: bool, passthrough: bool = False) -> None:
        super().__init__()
        self._source = source
        self._low = low
        self._thinning = Thinning(LOW_MAX_FPS)
        self._sending = asyncio.Event()
        self._sending.set()  # until the SFU says otherwise, as browsers start
        self._encoder = LowEncoder() if low else None
        self._decoder = PacketDecoder() if low and passthrough else None
        # packets sent as they are start, and start again after a pause, at a key frame: a
        # delta frame whose references were never sent is garbage to every viewer
        self._passthrough = passthrough and not low
        self._at_key_frame = not self._passthrough
        self._key_frame_asked = False  # a viewer lost a frame (PLI): the next low frame is a key frame

    @property
    def sending(self) -> bool:
        return self._sending.is_set()

    def request_key_frame(self) -> None:
        """A viewer's PLI or FIR for the low layer (the SFU coalesces them): without it the
        viewer's picture stays frozen until the next periodic key frame."""
        self._key_frame_asked = True

    def set_needed(self, needed: bool) -> None:
        if needed and not self._sending.is_set():
            self._at_key_frame = not self._passthrough
            if self._decoder is not None:
                self._decoder.restart()
        if needed:
            self._sending.set()
        else:
            self._sending.clear()

    async def recv(self) -> Any:
        while True:
            item = await self._source.recv()  # read on while withheld: no frames pile up
            if not self._sending.is_set():
                continue
            if not self._at_key_frame:
                if not item.is_keyframe:
                    continue
                self._at_key_frame = True
            if not self._low:
                return item
            if self._decoder is None and not self._thinning.keep(item):
                continue
            # decoding, scaling and encoding take milliseconds: off the event loop, which forwards media
            packet = await asyncio.get_running_loop().run_in_executor(None, self._make_low, item)
            if packet is not None:
                return packet

    def _make_low(self, item: Any) -> Any:
        """In a worker thread: a frame (or a passed-through packet, decoded and thinned here)
        -> the low layer's VP8 packet, or None."""
        frames = [item] if self._decoder is None else self._decoder.decode(item)
        packet = None
        for frame in frames:
            if self._decoder is not None and not self._thinning.keep(frame):
                continue
            key_frame, self._key_frame_asked = self._key_frame_asked, False
            packet = self._encoder.encode(frame, key_frame) or packet
        return packet

    def stop(self) -> None:
        self._source.stop()
        super().stop()


class Thinning:
    """Keeps frames at most ``fps`` per second of their timestamps (a 60 fps camera's every
    other frame; all of a 25 or 30 fps camera's)."""

    def __init__(self, fps: int) -> None:
        self._interval = 0.9 / fps  # (timestamps jitter: a 30 fps camera keeps all its frames)
        self._last: float | None = None

    def keep(self, frame: Any) -> bool:
        if frame.pts is None or frame.time_base is None:
            return True
        now = float(frame.pts * frame.time_base)
        if self._last is not None and 0 <= now - self._last < self._interval:
            return False
        self._last = now
        return True


class PacketDecoder:
    """A passed-through camera's packets -> frames, for its low layer. It starts (and starts
    again after a pause or a damaged packet) at a key frame, with a context of its own (the
    reader's belongs to its thread)."""

    def __init__(self) -> None:
        self._codec: Any = None
        self._synced = False

    def restart(self) -> None:
        self._synced = False

    def decode(self, packet: Any) -> list[Any]:
        if not self._synced:
            if not packet.is_keyframe:
                return []
            source = packet.stream.codec_context
            self._codec = av.CodecContext.create(source.name, "r")
            if source.extradata:
                self._codec.extradata = source.extradata
            self._synced = True
        try:
            frames = self._codec.decode(packet)
        except av.FFmpegError as error:
            log.info("low layer: damaged packet of the camera (%s), waiting for a key frame", error)
            self._synced = False
            return []
        for frame in frames:
            if frame.pts is None or frame.time_base is None:
                frame.pts, frame.time_base = packet.pts, packet.time_base
        return frames


class LowEncoder:
    """Frames of the camera -> VP8 packets of the low layer (one libvpx context per size)."""

    def __init__(self) -> None:
        self._codec: Any = None
        self._fps = LOW_MAX_FPS

    def encode(self, frame: Any, key_frame: bool = False) -> Any:
        scale = max(LOW_SCALE, math.ceil(frame.width / LOW_MAX_WIDTH))
        width, height = max(2, frame.width // scale // 2 * 2), max(2, frame.height // scale // 2 * 2)
        if self._codec is None or (self._codec.width, self._codec.height) != (width, height):
            self._codec = _vp8(width, height, self._fps)
        scaled = frame.reformat(width=width, height=height, format="yuv420p")
        # the frame's own picture type would force libvpx's (a camera's all-intra stream: all key frames)
        scaled.pict_type = PictureType.I if key_frame else PictureType.NONE
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
    """The two camera transceivers of a publish connection and the demand for each.
    ``passthrough``: the camera's own codec (h264, vp8), whose packets the high layer sends
    as they are; the low layer is VP8 either way."""

    def __init__(self, pc: RTCPeerConnection, high: MediaStreamTrack, low: MediaStreamTrack,
                 passthrough: str | None = None) -> None:
        self.high = LayerTrack(high, low=False, passthrough=passthrough is not None)
        self.low = LayerTrack(low, low=True, passthrough=passthrough is not None)
        self._transceivers: dict[LayerTrack, RTCRtpTransceiver] = {
            track: pc.addTransceiver(track, direction="sendonly") for track in (self.high, self.low)}
        # aiortc answers a PLI by asking its own encoder, which the low layer does not use
        self._transceivers[self.low].sender._send_keyframe = self.low.request_key_frame  # type: ignore[method-assign]
        if passthrough is not None:  # each layer offers the one codec its packets are in
            for track, codec in ((self.high, passthrough), (self.low, "vp8")):
                mime = f"video/{codec}"
                self._transceivers[track].setCodecPreferences(
                    [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == mime])

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
