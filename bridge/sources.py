"""The room's media sources, opened through PyAV (aiortc's MediaPlayer), and fed to each session.

Spec → what ffmpeg opens:
- `/dev/video0`, `v4l2:/dev/video0` — a V4L2 camera (`format=v4l2`);
- `alsa:DEVICE` (`alsa:default`, `alsa:hw:1,0`) — an ALSA capture device; `pulse` — PulseAudio,
  through ALSA's `pulse` device (the PyAV wheel's ffmpeg has no native PulseAudio input);
- `rtsp://…`, `rtsps://…` — an IP camera or room codec (TCP transport);
- `lavfi:GRAPH` — an ffmpeg test source (`lavfi:testsrc=size=640x360:rate=25`);
- anything else is a file, played in a loop (tests, demonstrations); `none` — no source.

Video that is already H.264 or VP8 (RTSP, files) is passed through without re-encoding
(`MediaPlayer(decode=False)`); the SFU forwards it as it is. Other video and all audio that
is not Opus/G.711 is decoded, and aiortc encodes it.

A Feed reads its source all the time, also between sessions: a live camera's frames would
otherwise pile up in the player's unbounded queue while the link is down. Each session takes
a FeedTrack, which drops the oldest frames when it falls behind.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bridge.texts import AgentError, say

log = logging.getLogger("hoinghi.bridge.sources")
NETWORK_TIMEOUT_S = 5
FEED_QUEUE = 30  # frames a slow session may lag behind before the oldest are dropped
PASS_THROUGH = ("h264", "vp8")  # video codecs sent as they come (the SFU forwards VP8 and H.264)


@dataclass(frozen=True)
class SourceSpec:
    spec: str
    file: str
    format: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    live: bool = True  # a device or stream (False: a file, looped)
    network: bool = False

    @property
    def may_pass_through(self) -> bool:
        return self.network or not self.live


def parse_source(spec: str) -> SourceSpec | None:
    """The source a spec names, or None for `none`; AgentError for a spec that names nothing."""
    spec = spec.strip()
    if spec in ("", "none"):
        return None
    if spec.startswith("/dev/video"):
        return SourceSpec(spec, spec, "v4l2")
    if spec.startswith("v4l2:"):
        return SourceSpec(spec, spec[5:], "v4l2")
    if spec.startswith("alsa:") and len(spec) > 5:
        return SourceSpec(spec, spec[5:], "alsa")
    if spec == "pulse" or spec.startswith("pulse:"):
        return SourceSpec(spec, "pulse", "alsa")
    if spec.startswith(("rtsp://", "rtsps://")):
        return SourceSpec(spec, spec, None, {"rtsp_transport": "tcp"}, network=True)
    if spec.startswith("lavfi:") and len(spec) > 6:
        return SourceSpec(spec, spec[6:], "lavfi")
    if ":" in spec.split("/")[0] and not spec.startswith(("./", "/")):
        raise AgentError("input_error", spec, say("bad_source", spec=spec))
    return SourceSpec(spec, spec, live=False)


def _open(source: SourceSpec, decode: bool) -> MediaPlayer:
    try:
        return MediaPlayer(
            source.file, format=source.format, options=source.options or None, decode=decode,
            timeout=NETWORK_TIMEOUT_S if source.network else None, loop=not source.live,
        )
    except (OSError, av.FFmpegError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise AgentError("source_error", source.spec, say("source_unreachable", spec=source.spec, reason=reason)) from None


def _probe(source: SourceSpec) -> dict[str, str]:
    """The codec of the first video and audio stream (to choose between passing through and decoding)."""
    try:
        with av.open(source.file, format=source.format, options=source.options or None,
                     timeout=NETWORK_TIMEOUT_S if source.network else None) as container:
            return {s.type: s.codec_context.name for s in reversed(container.streams) if s.type in ("audio", "video")}
    except (OSError, av.FFmpegError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise AgentError("source_error", source.spec, say("source_unreachable", spec=source.spec, reason=reason)) from None


class Feed:
    """One source track read continuously; sessions attach FeedTracks to it.

    A looping file starts its timestamps over at every pass, and aiortc's player then stops
    pacing it (it compares them with the first pass's start): the feed keeps the timestamps
    rising and paces a file to real time itself.
    """

    def __init__(self, track: MediaStreamTrack, paced: bool) -> None:
        self.kind = track.kind
        self._track = track
        self._paced = paced
        self._outlets: set[FeedTrack] = set()
        self.ended = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._offset = 0
        self._last_pts: int | None = None
        self._start: float | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump())

    async def _rising(self, frame: Any) -> None:
        if frame.pts is None:
            return
        if self._last_pts is not None and frame.pts + self._offset <= self._last_pts:
            self._offset = self._last_pts + 1 - frame.pts  # the file started over
        frame.pts += self._offset
        self._last_pts = frame.pts
        if self._paced and frame.time_base is not None:
            at = float(frame.pts * frame.time_base)
            loop = asyncio.get_running_loop()
            if self._start is None:
                self._start = loop.time() - at
            delay = self._start + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _pump(self) -> None:
        try:
            while True:
                frame = await self._track.recv()
                await self._rising(frame)
                for outlet in list(self._outlets):
                    outlet.offer(frame)
        except MediaStreamError:
            log.warning("source ended", extra={"kind": self.kind})
        finally:
            self.ended.set()
            for outlet in list(self._outlets):
                outlet.offer(None)

    def track(self) -> FeedTrack:
        outlet = FeedTrack(self)
        self._outlets.add(outlet)
        return outlet

    def detach(self, outlet: FeedTrack) -> None:
        self._outlets.discard(outlet)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._track.stop()


class FeedTrack(MediaStreamTrack):
    """A session's view of a Feed: frames (or, passed through, packets), counted for the frame rate."""

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self.kind = feed.kind
        self._feed = feed
        self._queue: asyncio.Queue[Any] = asyncio.Queue(FEED_QUEUE)
        self.frames = 0  # counted for the frame rate of the health report

    def offer(self, frame: Any) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        self.frames += 1
        return frame

    def stop(self) -> None:
        self._feed.detach(self)
        super().stop()


class Sources:
    """The room's camera and microphone, opened once and checked at start-up."""

    def __init__(self, video: str, audio: str) -> None:
        self.video_spec, self.audio_spec = parse_source(video), parse_source(audio)
        self.video: Feed | None = None
        self.audio: Feed | None = None
        self.passthrough = False  # the video is sent as the source encoded it
        self.video_codec: str | None = None
        self._players: list[MediaPlayer] = []

    def open(self) -> None:
        """Open every source; AgentError (nothing left open) when one cannot be opened."""
        try:
            video_player, same_audio_usable = None, False
            if self.video_spec is not None:
                codecs = _probe(self.video_spec) if self.video_spec.may_pass_through else {}
                self.video_codec = codecs.get("video")
                self.passthrough = self.video_codec in PASS_THROUGH
                video_player = self._keep(_open(self.video_spec, decode=not self.passthrough))
                if video_player.video is None:
                    raise AgentError("source_error", self.video_spec.spec, say("no_stream", spec=self.video_spec.spec, kind="video"))
                self.video = Feed(video_player.video, paced=not self.video_spec.live)
                same_audio_usable = not self.passthrough or codecs.get("audio") == "opus"  # the SFU takes Opus only
            if self.audio_spec is not None:
                player = None
                if self.audio_spec == self.video_spec and video_player and video_player.audio and same_audio_usable:
                    player = video_player
                if player is None:
                    player = self._keep(_open(self.audio_spec, decode=True))
                if player.audio is None:
                    raise AgentError("source_error", self.audio_spec.spec, say("no_stream", spec=self.audio_spec.spec, kind="audio"))
                self.audio = Feed(player.audio, paced=not self.audio_spec.live)
        except AgentError:
            self.close()
            raise
        for feed in (self.video, self.audio):
            if feed is not None:
                feed.start()

    def _keep(self, player: MediaPlayer) -> MediaPlayer:
        self._players.append(player)
        return player

    @property
    def ended(self) -> bool:
        return any(feed.ended.is_set() for feed in (self.video, self.audio) if feed is not None)

    def close(self) -> None:
        for feed in (self.video, self.audio):
            if feed is not None:
                feed.stop()
        for player in self._players:
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
        self._players.clear()
        self.video = self.audio = None
        self.passthrough = False

