"""The room's media sources, opened through PyAV (bridge.reader), and fed to each session.

Spec → what ffmpeg opens:
- `/dev/video0`, `v4l2:/dev/video0` — a V4L2 camera (`format=v4l2`);
- `alsa:DEVICE` (`alsa:default`, `alsa:hw:1,0`) — an ALSA capture device; `pulse` or
  `pulse:SOURCE` — PulseAudio, through ALSA's PulseAudio plugin (bridge.alsa: the PyAV wheel's
  ffmpeg has no native PulseAudio input);
- `rtsp://…`, `rtsps://…` — an IP camera or room codec (TCP transport);
- `lavfi:GRAPH` — an ffmpeg test source (`lavfi:testsrc=size=640x360:rate=25`);
- anything else is a file, played in a loop (tests, demonstrations); `none` — no source.

Video that is already H.264 or VP8 (RTSP, files) is passed through without re-encoding
(its packets are handed over undecoded); the SFU forwards it as it is. Other video, and audio
that is not Opus, is decoded, and aiortc encodes it.

A source is read all the time, also between sessions (a live camera cannot be paused); its
Feed hands each frame to the sessions' FeedTracks, which drop the oldest frames when they
fall behind.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bridge.alsa import pulse_pcm
from bridge.reader import PASS_THROUGH_AUDIO, ContainerReader
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
        return SourceSpec(spec, pulse_pcm(spec[6:]), "alsa")
    if spec.startswith(("rtsp://", "rtsps://")):
        return SourceSpec(spec, spec, None, {"rtsp_transport": "tcp"}, network=True)
    if spec.startswith("lavfi:") and len(spec) > 6:
        return SourceSpec(spec, spec[6:], "lavfi")
    if ":" in spec.split("/")[0] and not spec.startswith(("./", "/")):
        raise AgentError("input_error", spec, say("bad_source", spec=spec))
    return SourceSpec(spec, spec, live=False)


def _open(source: SourceSpec) -> ContainerReader:
    try:
        return ContainerReader(source.file, source.format, source.options, NETWORK_TIMEOUT_S if source.network else None,
                               looped=not source.live)
    except (OSError, av.FFmpegError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise AgentError("source_error", source.spec, say("source_unreachable", spec=source.spec, reason=reason)) from None


class Feed:
    """One source stream handed over by its reader; sessions attach FeedTracks to it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._outlets: set[FeedTrack] = set()
        self.ended = asyncio.Event()

    def deliver(self, item: Any) -> None:
        """A frame or packet from the reader's thread (through the loop), or None at the end."""
        if item is None:
            if not self.ended.is_set():
                log.warning("source ended", extra={"kind": self.kind})
            self.ended.set()
        for outlet in list(self._outlets):
            outlet.offer(item)

    def track(self) -> FeedTrack:
        outlet = FeedTrack(self)
        self._outlets.add(outlet)
        return outlet

    def detach(self, outlet: FeedTrack) -> None:
        self._outlets.discard(outlet)


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
        self._readers: list[ContainerReader] = []

    def open(self) -> None:
        """Open every source; AgentError (nothing left open) when one cannot be opened."""
        feeds: dict[str, Feed] = {}
        starts: list[tuple[ContainerReader, dict[str, Feed]]] = []
        try:
            video_reader = None
            if self.video_spec is not None:
                video_reader = self._keep(_open(self.video_spec))
                self.video_codec = video_reader.opened.video_codec
                if self.video_codec is None:
                    raise AgentError("source_error", self.video_spec.spec, say("no_stream", spec=self.video_spec.spec, kind="video"))
                self.passthrough = self.video_spec.may_pass_through and self.video_codec in PASS_THROUGH
                video_reader.read("video", decode=not self.passthrough)
                self.video = feeds["video"] = Feed("video")
                starts.append((video_reader, {"video": self.video}))
            if self.audio_spec is not None:
                reader = video_reader if self.audio_spec == self.video_spec else None
                if reader is None:
                    reader = self._keep(_open(self.audio_spec))
                    starts.append((reader, {}))
                codec = reader.opened.audio_codec
                if codec is None:
                    raise AgentError("source_error", self.audio_spec.spec, say("no_stream", spec=self.audio_spec.spec, kind="audio"))
                reader.read("audio", decode=not (self.audio_spec.may_pass_through and codec in PASS_THROUGH_AUDIO))
                self.audio = Feed("audio")
                next(feeds for r, feeds in starts if r is reader)["audio"] = self.audio
        except AgentError:
            self.close()
            raise
        for reader, by_kind in starts:
            reader.start(lambda kind, item, by_kind=by_kind: by_kind[kind].deliver(item))

    def _keep(self, reader: ContainerReader) -> ContainerReader:
        self._readers.append(reader)
        return reader

    @property
    def ended(self) -> bool:
        return any(feed.ended.is_set() for feed in (self.video, self.audio) if feed is not None)

    def close(self) -> None:
        for reader in self._readers:
            reader.stop()
        self._readers.clear()
        self.video = self.audio = None
        self.passthrough = False
