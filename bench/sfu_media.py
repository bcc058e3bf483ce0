"""Pre-encoded media for the SFU benchmark's publishers: encoded once, sent many times.

Publishers must not encode during the measurement (that would load the box the SFU and
Janus run on), so this makes a 10 s loop of VP8 RTP payloads (aiortc's encoder and
packetiser: real descriptors, picture ids, a key frame every 2 s) and 20 ms Opus payloads.
"""

from __future__ import annotations

import fractions
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from av import AudioFrame, VideoFrame

FPS = 25
SECONDS = 10
GOP = 2 * FPS
AUDIO_RATE = 48000


@dataclass
class Media:
    video: list[tuple[list[bytes], bool]]  # per frame: RTP payloads, key frame?
    audio: list[bytes]  # one Opus payload per 20 ms


def make(width: int = 480, height: int = 270, bitrate: int = 350_000) -> Media:
    encoder = Vp8Encoder()
    encoder.target_bitrate = bitrate
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    video = []
    for n in range(FPS * SECONDS):
        img = np.roll(noise, n * 4, axis=1) // 2 + 64
        frame = VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = n * 90000 // FPS
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=n % GOP == 0)
        video.append((payloads, n % GOP == 0))
    opus = OpusEncoder()
    audio: list[bytes] = []
    samples = AUDIO_RATE // 50
    for n in range(50 * SECONDS):
        t = (np.arange(samples) + n * samples) / AUDIO_RATE
        pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
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
