"""The recognition pipeline with the real libvosk: words and times, drops, the recogniser cap."""
from __future__ import annotations

import asyncio

import pytest

from transcription.pipeline import Dropped, Final, Partial, Transcriber, TranscriptEvent
from transcription.recognizer import StreamRecognizer
from transcription.tiny_model import WORD
from tests.transcription.audio import chunks, tone_bursts

BURSTS = [(0.5, 0.8), (1.6, 2.1), (3.0, 3.4)]


def test_each_burst_is_one_word_with_its_times(tiny_model) -> None:  # type: ignore[no-untyped-def]
    recognizer = StreamRecognizer(tiny_model)
    heard = recognizer.accept(chunks(tone_bursts(BURSTS, 5.0), start_s=0.0))
    words = [w for u in heard.finals for w in u.words]
    last = recognizer.finish()
    words += list(last.words) if last else []
    assert [w.word for w in words] == [WORD] * 3
    for word, (start, end) in zip(words, BURSTS):
        assert abs(word.start_s - start) <= 0.1 and abs(word.end_s - end) <= 0.1, (word, start, end)


def test_silence_gives_no_words(tiny_model) -> None:  # type: ignore[no-untyped-def]
    recognizer = StreamRecognizer(tiny_model)
    heard = recognizer.accept(chunks(tone_bursts([], 3.0)))
    assert heard.finals == () and heard.partial == "" and recognizer.finish() is None


def test_times_stay_on_the_source_clock_across_a_pause(tiny_model) -> None:  # type: ignore[no-untyped-def]
    # 2 s of audio, then the microphone pauses 10 s (RTP time jumps), then a burst at 0.5 s of the second part.
    recognizer = StreamRecognizer(tiny_model)
    recognizer.accept(chunks(tone_bursts([], 2.0)))
    heard = recognizer.accept(chunks(tone_bursts([(0.5, 0.9)], 2.0), start_s=12.0))
    words = [w for u in heard.finals for w in u.words] or list(recognizer.finish().words)
    assert abs(words[0].start_s - 12.5) <= 0.1 and abs(words[0].end_s - 12.9) <= 0.1


class Collector:
    def __init__(self) -> None:
        self.events: list[TranscriptEvent] = []
        self.changed = asyncio.Event()

    async def __call__(self, event: TranscriptEvent) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait(self, predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
        async def loop() -> None:
            while not predicate(self.events):
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), timeout)

    def finals(self, source: str) -> list[Final]:
        return [e for e in self.events if isinstance(e, Final) and e.source == source]


async def _play(transcriber: Transcriber, source: str, pcm: bytes, speed: float = 10.0, level: int | None = 30) -> None:
    """Feed like a microphone, `speed` times faster than real time."""
    for piece, at in chunks(pcm):
        transcriber.feed(source, piece, at, level)
        await asyncio.sleep(0.1 / speed)


async def test_two_speakers_at_once_each_get_their_own_words(tiny_model) -> None:  # type: ignore[no-untyped-def]
    collect = Collector()
    transcriber = Transcriber(tiny_model, collect, workers=2, partial_interval_s=0.0)
    alice = tone_bursts([(0.3, 0.7)], 2.0)
    bob = tone_bursts([(0.3, 0.6), (1.2, 1.5)], 2.0, hz=880)
    await asyncio.gather(_play(transcriber, "alice", alice), _play(transcriber, "bob", bob))
    transcriber.end("alice")
    transcriber.end("bob")
    await collect.wait(lambda ev: len(collect.finals("alice")) >= 1 and sum(
        len(f.utterance.words) for f in collect.finals("bob")) >= 2)
    await transcriber.aclose()
    assert sum(len(f.utterance.words) for f in collect.finals("alice")) == 1
    assert any(isinstance(e, Partial) and e.source == "alice" and e.text == WORD for e in collect.events)


async def test_audio_is_dropped_and_reported_when_recognition_falls_behind(tiny_model) -> None:  # type: ignore[no-untyped-def]
    collect = Collector()
    transcriber = Transcriber(tiny_model, collect, workers=1, max_backlog_s=0.3)
    pcm = tone_bursts([(0.2, 0.5)], 6.0)
    for piece, at in chunks(pcm):  # 6 s at once: far faster than anything can recognise
        transcriber.feed("alice", piece, at, 30)
    transcriber.end("alice")
    await collect.wait(lambda ev: any(isinstance(e, Dropped) for e in ev))
    await transcriber.aclose()
    dropped = [e for e in collect.events if isinstance(e, Dropped)]
    assert dropped[0].reason == "behind" and dropped[0].seconds >= 5.0
    assert transcriber.dropped_s["behind"] == pytest.approx(dropped[0].seconds, abs=0.01)


async def test_above_the_cap_the_louder_source_is_recognised(tiny_model) -> None:  # type: ignore[no-untyped-def]
    collect = Collector()
    transcriber = Transcriber(tiny_model, collect, workers=2, max_recognizers=1)
    quiet = tone_bursts([(t, t + 0.3) for t in (0.2, 0.8, 1.4, 2.0, 2.6)], 3.0)
    loud = tone_bursts([(0.3, 0.6), (1.0, 1.3)], 2.0)

    async def loud_later() -> None:
        await asyncio.sleep(0.1)  # the quiet one has the only recogniser by now
        await _play(transcriber, "loud", loud, speed=5.0, level=10)

    await asyncio.gather(_play(transcriber, "quiet", quiet, speed=5.0, level=50), loud_later())
    transcriber.end("loud")
    transcriber.end("quiet")
    await collect.wait(lambda ev: sum(len(f.utterance.words) for f in collect.finals("loud")) >= 2
                       and any(isinstance(e, Dropped) and e.source == "quiet" for e in ev))
    await transcriber.aclose()
    busy = [e for e in collect.events if isinstance(e, Dropped) and e.source == "quiet"]
    assert busy[0].reason == "busy" and transcriber.dropped_s["busy"] > 0.5
    assert not any(isinstance(e, Dropped) and e.source == "loud" for e in collect.events)
    assert transcriber.active == 0


async def test_a_recogniser_is_freed_after_silence_and_made_again_for_speech(tiny_model) -> None:  # type: ignore[no-untyped-def]
    collect = Collector()
    transcriber = Transcriber(tiny_model, collect, workers=1, idle_s=0.3)
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    await collect.wait(lambda ev: len(collect.finals("alice")) == 1)
    for piece, at in chunks(tone_bursts([], 1.0), start_s=1.0):  # silence, as a muted microphone sends
        transcriber.feed("alice", piece, at, 127)
        await asyncio.sleep(0.1)
    assert transcriber.active == 0
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    transcriber.end("alice")
    await collect.wait(lambda ev: len(collect.finals("alice")) == 2)
    await transcriber.aclose()


async def test_a_lazy_batch_is_made_in_a_worker_thread_in_order(tiny_model) -> None:  # type: ignore[no-untyped-def]
    import threading

    collect = Collector()
    transcriber = Transcriber(tiny_model, collect, workers=2, partial_interval_s=0.0)
    made: list[tuple[float, bool]] = []

    def lazy(piece: bytes, at: float):  # type: ignore[no-untyped-def]
        def make() -> bytes:
            made.append((at, threading.current_thread() is threading.main_thread()))
            return piece
        return make

    for piece, at in chunks(tone_bursts([(0.3, 0.7)], 1.5)):
        transcriber.feed_batch("alice", lazy(piece, at), len(piece) / 32000, at, 30)
        await asyncio.sleep(0.01)
    await transcriber.finish("alice")
    await transcriber.aclose()
    assert [at for at, _ in made] == sorted(at for at, _ in made) and len(made) == 15
    assert not any(on_main for _, on_main in made)
    assert sum(len(f.utterance.words) for f in collect.finals("alice")) == 1


async def test_silence_alone_starts_no_recogniser(tiny_model) -> None:  # type: ignore[no-untyped-def]
    collect = Collector()
    transcriber = Transcriber(tiny_model, collect, workers=1)
    for piece, at in chunks(tone_bursts([], 1.0)):
        transcriber.feed("alice", piece, at, 127)  # the SFU's level says: silence
    await asyncio.sleep(0.2)
    assert transcriber.active == 0 and transcriber.model_cpu_s == 0.0
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    assert transcriber.active == 1
    await transcriber.finish("alice")
    await transcriber.aclose()
    assert len(collect.finals("alice")) == 1 and not any(isinstance(e, Dropped) for e in collect.events)


async def test_recognition_threads_yield_the_cpu_to_the_forwarding_thread(tiny_model) -> None:  # type: ignore[no-untyped-def]
    import os
    import threading

    from transcription.pipeline import BACKGROUND_NICE

    collect = Collector()
    transcriber = Transcriber(tiny_model, collect, workers=1)
    niceness: list[int] = []

    def make() -> bytes:
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return b"\0" * 3200

    transcriber.feed_batch("alice", make, 0.1, 0.0, 30)
    await transcriber.finish("alice")
    await transcriber.aclose()
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert niceness == [min(19, loop_nice + BACKGROUND_NICE)]
