"""Test speech the tiny model understands: tone bursts in silence, as 16 kHz mono s16 PCM."""
from __future__ import annotations

import numpy as np

RATE = 16000


def tone_bursts(bursts: list[tuple[float, float]], total_s: float, amplitude: float = 0.3,
                hz: float = 440.0, noise: float = 0.0005) -> bytes:
    """Bursts given as (start_s, end_s) over faint noise, like a quiet room's microphone."""
    n = int(total_s * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(7)
    signal = noise * rng.standard_normal(n)
    for start, end in bursts:
        inside = (t >= start) & (t < end)
        signal[inside] += amplitude * np.sin(2 * np.pi * hz * t[inside])
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


def chunks(pcm: bytes, chunk_s: float = 0.1, start_s: float = 0.0) -> list[tuple[bytes, float]]:
    size = int(chunk_s * RATE) * 2
    return [(pcm[i:i + size], start_s + i / 2 / RATE) for i in range(0, len(pcm), size)]


def opus_packets(pcm: bytes) -> list[bytes]:
    """20 ms Opus packets of 16 kHz mono PCM, from libopus itself (as a browser's microphone sends)."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = RATE, "mono", "s16"
    encoder.open()
    samples = np.frombuffer(pcm, "<i2")
    packets: list[bytes] = []
    for start in range(0, len(samples) - 319, 320):
        frame = av.AudioFrame.from_ndarray(samples[None, start:start + 320].copy(), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, start
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets
