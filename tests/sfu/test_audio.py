"""Audio: the transcription tap, and Last-N (the N loudest audio streams; the camera videos
of the most recent speakers plus pinned ones)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from sfu import ActiveSpeakerChanged, RoomConfig
from tests.sfu.clients import ColourTrack, Subscriber, ToneTrack, publish, wait_for

pytestmark = pytest.mark.slow  # real peers, several seconds of media each


async def test_audio_tap_yields_16_khz_pcm_of_the_speaker_and_ends_on_leave(sfu):
    await sfu.join("r", "alice")
    sfu_tap = sfu.audio_tap("r", "alice")  # before publishing: attaches when the mic appears
    await sfu.leave("r", "alice")
    assert [c async for c in sfu_tap] == []

    pub = await publish(sfu, "r", "alice", ToneTrack(0.3))
    tap = sfu.audio_tap("r", "alice")
    pcm = bytearray()
    async for chunk in tap:
        assert chunk.sample_rate == 16000 and chunk.peer_id == "alice"
        pcm += chunk.pcm
        if len(pcm) >= 2 * 16000:  # one second
            break
    samples = np.frombuffer(bytes(pcm), np.int16).astype(np.float64)[1600:]
    assert np.sqrt(np.mean(samples ** 2)) > 2000
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * 16000 / len(samples)
    assert abs(peak_hz - 440) < 10

    rest = asyncio.ensure_future(_drain(tap))
    await sfu.leave("r", "alice")
    await asyncio.wait_for(rest, 10)
    await pub.close()


async def _drain(tap) -> None:
    async for _ in tap:
        pass


async def test_last_n_audio_forwards_only_the_loudest(sfu, events):
    sfu.configure_room("r", RoomConfig(last_n_audio=1))
    alice_voice, bob_voice = ToneTrack(0.5), ToneTrack(0.0)
    alice = await publish(sfu, "r", "alice", alice_voice)
    bob = await publish(sfu, "r", "bob", bob_voice)
    ids = {t.peer_id: t.track_id for t in sfu.tracks("r")}
    await wait_for(lambda: any(isinstance(e, ActiveSpeakerChanged) and e.peer_id == "alice"
                               for e in events))
    await sfu.join("r", "carol")
    carol = Subscriber(sfu, "r", "carol")
    await carol.subscribe(ids["alice"], ids["bob"])
    frames = lambda who: carol.received[ids[who]].frames if ids[who] in carol.received else 0  # noqa: E731

    await wait_for(lambda: frames("alice") > 50)
    assert frames("bob") == 0

    alice_voice.amplitude, bob_voice.amplitude = 0.0, 0.5
    await wait_for(lambda: frames("bob") > 50)
    before = frames("alice")
    await asyncio.sleep(1.0)
    assert frames("alice") <= before + 5
    for pc in (alice, bob):
        await pc.close()
    await carol.close()


async def test_last_n_video_shows_recent_speakers_and_pinned(sfu, events):
    alice_voice, bob_voice = ToneTrack(0.5), ToneTrack(0.0)
    alice = await publish(sfu, "r", "alice", ColourTrack((200, 30, 30)), alice_voice)
    bob = await publish(sfu, "r", "bob", ColourTrack((30, 30, 200)), bob_voice)
    cams = {t.peer_id: t.track_id for t in sfu.tracks("r") if t.kind == "video"}
    await wait_for(lambda: any(isinstance(e, ActiveSpeakerChanged) and e.peer_id == "alice"
                               for e in events))
    await sfu.join("r", "carol")
    carol = Subscriber(sfu, "r", "carol")
    await sfu.set_last_n("r", "carol", 1, [])
    await carol.subscribe(*cams.values())
    frames = lambda who: carol.received[cams[who]].frames if cams[who] in carol.received else 0  # noqa: E731

    await wait_for(lambda: frames("alice") > 20)
    assert frames("bob") == 0

    alice_voice.amplitude, bob_voice.amplitude = 0.0, 0.5
    await wait_for(lambda: frames("bob") > 20)
    paused_at = frames("alice")
    await asyncio.sleep(1.0)
    assert frames("alice") <= paused_at + 2

    await sfu.set_last_n("r", "carol", 1, ["alice"])  # pin alice: both now
    await wait_for(lambda: frames("alice") > paused_at + 20)
    for pc in (alice, bob):
        await pc.close()
    await carol.close()


async def test_a_microphone_muted_by_the_chair_is_not_the_active_speaker(sfu, events):
    alice = await publish(sfu, "r", "alice", ToneTrack(0.5))
    bob_voice = ToneTrack(0.0)
    bob = await publish(sfu, "r", "bob", bob_voice)
    speakers = lambda: [e.peer_id for e in events if isinstance(e, ActiveSpeakerChanged)]  # noqa: E731
    await wait_for(lambda: speakers() == ["alice"])

    await sfu.set_forwarding("r", "alice", "audio", False)
    assert speakers() == ["alice", None]
    await asyncio.sleep(1.0)  # alice still talks loudly, muted
    assert speakers() == ["alice", None]
    bob_voice.amplitude = 0.2
    await wait_for(lambda: speakers()[-1] == "bob")
    for pc in (alice, bob):
        await pc.close()
