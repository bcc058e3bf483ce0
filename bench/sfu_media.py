"""Pre-encoded media for the SFU benchmark's publishers: encoded once, sent many times.

Publishers must not encode during the measurement (that would load the box the SFU and
Janus run on), so this makes a 10 s loop of VP8 RTP payloads (aiortc's encoder and
packetiser: real descriptors, picture ids, a key frame every 2 s) and 20 ms Opus payloads.
"""

from __future__ import annotations

import fractions
import math
import pickle
import random
from array import array
from dataclasses import dataclass
from pathlib import Path

from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from av import AudioFrame, VideoFrame

FPS = 25
BITRATE = 1_500_000  # bit/s: a bridge point's hall camera (issue 3; docs/sfu.md, "Benchmark")
SECONDS = 10
GOP = 2 * FPS
AUDIO_RATE = 48000


@dataclass
class Media:
    video: list[tuple[list[bytes], bool]]  # per frame: RTP payloads, key frame?
    audio: list[bytes]  # one Opus payload per 20 ms


def make(width: int = 960, height: int = 540, bitrate: int = BITRATE) -> Media:
    """Encode the loop (a few seconds of CPU, once per benchmark run). No numpy: the
    benchmark needs only the runtime dependencies.

    The picture is a scrolling gradient with light grain: it compresses the way camera
    pictures do, so the encoder's rate control gives about 150 packets per second and key
    frames a few times a delta frame (pure noise gave 200-packet key frames no camera sends)."""
    encoder = Vp8Encoder()
    encoder.target_bitrate = bitrate
    grain = random.Random(1)
    frames = FPS * SECONDS
    rows = height + 2 * frames  # scrolled two rows per frame: every frame differs
    scene = bytes(((x * 200) // width + (y % 64) + grain.randrange(12)) & 0xFF
                  for y in range(rows) for x in range(width))
    grey = bytes([128]) * (width * height // 4)
    video = []
    for n in range(frames):
        frame = VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(scene[2 * n * width:(2 * n + height) * width])
        frame.planes[1].update(grey)
        frame.planes[2].update(grey)
        frame.pts = n * 90000 // FPS
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=n % GOP == 0)
        video.append((payloads, n % GOP == 0))
    opus = OpusEncoder()
    audio: list[bytes] = []
    samples = AUDIO_RATE // 50
    for n in range(50 * SECONDS):
        pcm = array("h", (int(8000 * math.sin(2 * math.pi * 440 * (i + n * samples) / AUDIO_RATE))
                          for i in range(samples)))
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        payloads, _ = opus.encode(frame)
        audio.extend(payloads)
    return Media(video, audio)


def save(media: Media, path: Path) -> None:
    path.write_bytes(pickle.dumps(media))


def load(path: Path) -> Media:
    return pickle.loads(path.read_bytes())
