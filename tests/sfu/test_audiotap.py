"""The audio tap on its own, fed real Opus packets: an empty RTP payload must not end decoding."""
from __future__ import annotations

import asyncio
import struct

import av
import numpy as np
import pytest

from opuscodec import OpusDecoder
from sfu.audiotap import AudioTap
from sfu.packet import RtpView

RATE = 48000


def _opus_packets(seconds: float, amplitude: float = 0.4) -> list[bytes]:
    """20 ms Opus packets of a 440 Hz tone, from libopus itself."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = RATE, "stereo", "s16"
    encoder.open()
    samples = int(seconds * RATE)
    tone = (amplitude * 32767 * np.sin(2 * np.pi * 440 * np.arange(samples) / RATE)).astype(np.int16)
    packets: list[bytes] = []
    for start in range(0, samples - 959, 960):
        frame = av.AudioFrame.from_ndarray(np.repeat(tone[start:start + 960], 2)[None, :], format="s16", layout="stereo")
        frame.sample_rate, frame.pts = RATE, start
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets


def _view(payload: bytes, seq: int, level: int | None = 30) -> RtpView:
    header = struct.pack("!BBHII", 0x80, 111, seq, seq * 960, 1234)
    view = RtpView(header + payload, 1234, 111, seq, seq * 960, False, False, len(header))
    view.audio_level = level
    return view


async def _pcm(tap: AudioTap, views: list[RtpView]) -> np.ndarray:
    for view in views:
        tap.push(view)
    tap.end()
    pcm = bytearray()
    async for chunk in tap:
        pcm += chunk.pcm
    return np.frombuffer(bytes(pcm), np.int16).astype(np.float64)


async def test_an_empty_payload_is_skipped_and_decoding_goes_on() -> None:
    packets = _opus_packets(2.0)
    views = [_view(p, n) for n, p in enumerate(packets[:50])] + [_view(b"", 50)]
    views += [_view(p, 51 + n) for n, p in enumerate(packets[50:])]
    closed: list[AudioTap] = []
    pcm = await _pcm(AudioTap("alice", 16000, closed.append), views)
    after = pcm[-16000:]  # the last second, all of it after the empty packet
    assert len(pcm) >= 16000 * 1.9
    assert np.sqrt(np.mean(after ** 2)) > 3000
    assert closed  # the tap detached itself at the end


async def test_chunks_carry_the_loudest_level_of_their_packets() -> None:
    packets = _opus_packets(0.2)
    tap = AudioTap("bob", 16000, lambda tap: None)
    for n, p in enumerate(packets):
        tap.push(_view(p, n, level=90 if n else 20))
    tap.end()
    levels = [chunk.level async for chunk in tap]
    assert levels and min(levels) == 20


async def test_a_batched_tap_waits_for_its_batch_but_not_forever() -> None:
    packets = _opus_packets(0.3)
    tap = AudioTap("carol", 16000, lambda tap: None, batch_packets=5)
    for n, p in enumerate(packets[:12]):
        tap.push(_view(p, n))
    first = await tap.__anext__()  # all twelve waiting: one chunk (the resampler keeps a few samples back)
    assert first.time == 0 and abs(len(first.pcm) - 12 * 320 * 2) < 320 * 2
    tap.push(_view(packets[12], 12))  # one packet, then the microphone goes quiet
    second = await asyncio.wait_for(tap.__anext__(), 2)  # comes after the batch wait, not never
    assert second.time == pytest.approx(12 * 0.02)


async def test_deliver_hands_over_undecoded_batches_that_decode_in_another_thread() -> None:
    packets = _opus_packets(0.3)  # 15 packets: three full batches of 5... then one more, alone
    tap = AudioTap("dave", 16000, lambda tap: None, batch_packets=5)
    batches = []
    got_three, got_four = asyncio.Event(), asyncio.Event()

    def on_batch(batch) -> None:  # type: ignore[no-untyped-def]
        batches.append(batch)
        (got_three if len(batches) == 3 else got_four if len(batches) == 4 else asyncio.Event()).set()

    delivering = asyncio.create_task(tap.deliver(on_batch))
    await asyncio.sleep(0)
    for n, p in enumerate(packets[:15]):
        tap.push(_view(p, n, level=80 if n % 5 else 25))
    await asyncio.wait_for(got_three.wait(), 2)  # handed over at once, as each batch filled
    tap.push(_view(packets[0], 15))  # one packet, then the microphone goes quiet
    await asyncio.wait_for(got_four.wait(), 2)  # after the batch wait, not never
    tap.end()
    await asyncio.wait_for(delivering, 2)
    assert [len(b.payloads) for b in batches] == [5, 5, 5, 1]
    assert [b.time for b in batches] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert [b.seconds for b in batches] == pytest.approx([0.1, 0.1, 0.1, 0.02])
    assert [b.level for b in batches[:3]] == [25, 25, 25]
    decoder = OpusDecoder(16000)
    pcm = b"".join(decoder.decode(b.payloads) for b in batches)
    assert len(pcm) == 16 * 320 * 2  # 16 packets of 20 ms at 16 kHz
    tone = np.frombuffer(pcm, np.int16).astype(np.float64)[3200:]
    assert np.sqrt(np.mean(tone ** 2)) > 3000
