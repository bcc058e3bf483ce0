"""What the room gets back from the meeting: its audio, mixed, and the active speaker's video.

The SFU forwards every participant's audio separately, so the agent mixes the tracks it
receives into one (AudioMixer) for the loudspeakers or a file, and follows the active speaker
with one video track (VideoSwitcher), shown on the room's screen (bridge.display) and/or
recorded to a file when the agent runs headless. Both
live as long as the agent: sessions come and go (reconnections), the outputs keep running
and play silence or a black picture meanwhile.
"""
from __future__ import annotations

import asyncio
import fractions
import logging
import time
from typing import Any

import av
import numpy as np
from aiortc.contrib.media import MediaRecorder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bridge.alsa import pulse_pcm
from bridge.display import Display, parse_display
from bridge.texts import AgentError, say

log = logging.getLogger("hoinghi.bridge.outputs")
SAMPLE_RATE = 48000
SAMPLES = 960  # 20 ms, as the Opus decoder gives them
VIDEO_SIZE = (640, 360)
VIDEO_FPS = 15
VIDEO_CLOCK = fractions.Fraction(1, 90000)


class _Paced(MediaStreamTrack):
    """A track that produces one frame per period, on time, whatever its inputs do."""

    period = 0.02

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._count = 0

    async def _tick(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count * self.period
        if due > now:
            await asyncio.sleep(due - now)
        self._count += 1
        return self._count - 1


class AudioMixer(_Paced):
    """The sum of every received audio track, 48 kHz stereo s16, silence when there is none."""

    kind = "audio"
    period = SAMPLES / SAMPLE_RATE

    def __init__(self) -> None:
        super().__init__()
        self._inputs: dict[str, asyncio.Queue[np.ndarray]] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}

    def add(self, key: str, track: MediaStreamTrack) -> None:
        self.remove(key)
        queue: asyncio.Queue[np.ndarray] = asyncio.Queue(10)
        self._inputs[key] = queue
        self._readers[key] = asyncio.create_task(self._read(key, track, queue))

    def remove(self, key: str) -> None:
        task = self._readers.pop(key, None)
        if task is not None:
            task.cancel()
        self._inputs.pop(key, None)

    def clear(self) -> None:
        for key in list(self._readers):
            self.remove(key)

    async def _read(self, key: str, track: MediaStreamTrack, queue: asyncio.Queue[np.ndarray]) -> None:
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
        try:
            while True:
                frame = await track.recv()
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1, 2)
                    if queue.full():
                        queue.get_nowait()  # a late reader: keep the newest audio
                    queue.put_nowait(samples)
        except MediaStreamError:
            pass
        finally:
            if self._readers.get(key) is asyncio.current_task():
                self._readers.pop(key, None)
                self._inputs.pop(key, None)

    async def recv(self) -> av.AudioFrame:
        index = await self._tick()
        mix = np.zeros((SAMPLES, 2), dtype=np.int32)
        for queue in self._inputs.values():
            if not queue.empty():
                samples = queue.get_nowait()[:SAMPLES]
                mix[: len(samples)] += samples
        out = np.clip(mix, -32768, 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(out, format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * SAMPLES
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class VideoSwitcher(_Paced):
    """The video of whoever the agent follows (the active speaker), at a fixed size and rate."""

    kind = "video"
    period = 1 / VIDEO_FPS

    def __init__(self) -> None:
        super().__init__()
        self._latest: av.VideoFrame | None = None
        self._reader: asyncio.Task[None] | None = None
        self.source: str | None = None
        self.label = ""  # whose video it is (the room's screen shows it)
        self._black = av.VideoFrame.from_ndarray(np.zeros((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), dtype=np.uint8), format="rgb24")

    def follow(self, key: str | None, track: MediaStreamTrack | None, label: str = "") -> None:
        self.label = label if key is not None else ""
        if key == self.source:
            return
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        self.source, self._latest = key, None
        if track is not None:
            self._reader = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                self._latest = await track.recv()
        except MediaStreamError:
            self._latest = None

    @property
    def latest(self) -> av.VideoFrame | None:
        """The newest frame received (None: nobody to show); read by the display's thread."""
        return self._latest

    async def recv(self) -> av.VideoFrame:
        index = await self._tick()
        source = self._latest or self._black
        frame = source.reformat(width=VIDEO_SIZE[0], height=VIDEO_SIZE[1], format="yuv420p")
        frame.pts = int(index * self.period * 90000)
        frame.time_base = VIDEO_CLOCK
        return frame


def _recorder(spec: str) -> MediaRecorder | None:
    spec = spec.strip()
    if spec in ("", "none"):
        return None
    try:
        if spec.startswith("alsa:") and len(spec) > 5:
                return MediaRecorder(spec[5:], format="alsa")
        if spec == "pulse" or spec.startswith("pulse:"):
            return MediaRecorder(pulse_pcm(spec[6:]), format="alsa")
        if ":" in spec.split("/")[0]:
            raise AgentError("input_error", spec, say("bad_output", spec=spec))
        return MediaRecorder(spec)
    except (OSError, av.FFmpegError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise AgentError("source_error", spec, say("source_unreachable", spec=spec, reason=reason)) from None


class Outputs:
    """The mixer and the switcher, and where they go (none, a device, a file, the room's screen)."""

    def __init__(self, audio_out: str, record: str, display: str = "none") -> None:
        self.mixer = AudioMixer()
        self.switcher = VideoSwitcher()
        self._recorders: list[MediaRecorder] = []
        self._specs = (audio_out, record)
        self._screen = parse_display(display)
        self.display: Display | None = None
        self.status = say("display_connecting")  # what the room's screen says while there is no picture

    @property
    def wants_audio(self) -> bool:
        return self._specs[0] not in ("", "none")

    @property
    def wants_video(self) -> bool:
        return self._specs[1] not in ("", "none") or self._screen is not None

    def open(self) -> None:
        """Open the devices, files and screen; AgentError when one cannot be opened."""
        for spec, track in zip(self._specs, (self.mixer, self.switcher)):
            recorder = _recorder(spec)
            if recorder is not None:
                recorder.addTrack(track)
                self._recorders.append(recorder)
        if self._screen is not None:
            self.display = Display(self._screen, lambda: self.switcher.latest, lambda: self.switcher.label, lambda: self.status)
            self.display.open()

    async def start(self) -> None:
        for recorder in self._recorders:
            await recorder.start()

    async def stop(self) -> None:
        self.mixer.clear()
        self.switcher.follow(None, None)
        for recorder in self._recorders:
            await recorder.stop()
        self._recorders.clear()
        if self.display is not None:
            self.display.close()

    def stats(self) -> dict[str, Any]:
        return {"video_source": self.switcher.source}
