"""The recognition pipeline with the real libvosk in its own process: words and times, drops, the cap, crashes."""
from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from transcription.pipeline import Dropped, Final, Partial, RecognitionUnavailable, Transcriber, TranscriptEvent
from transcription.recognizer import StreamRecognizer
from transcription.tiny_model import WORD
from tests.transcription.audio import chunks, opus_packets, tone_bursts

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

    def words(self, source: str) -> int:
        return sum(len(f.utterance.words) for f in self.finals(source))


@pytest.fixture
async def started(tiny_model_dir: Path) -> AsyncIterator[Callable[..., object]]:
    """Transcribers on the tiny model, each with its recognition process; all closed at the end."""
    made: list[Transcriber] = []

    async def start(**options: object) -> tuple[Transcriber, Collector]:
        collect = Collector()
        transcriber = Transcriber(tiny_model_dir, collect, **options)  # type: ignore[arg-type]
        await transcriber.start()
        made.append(transcriber)
        return transcriber, collect

    yield start
    for transcriber in made:
        await transcriber.aclose()


async def _play(transcriber: Transcriber, source: str, pcm: bytes, speed: float = 10.0, level: int | None = 30) -> None:
    """Feed like a microphone, `speed` times faster than real time."""
    for piece, at in chunks(pcm):
        transcriber.feed(source, piece, at, level)
        await asyncio.sleep(0.1 / speed)


async def test_two_speakers_at_once_each_get_their_own_words(started) -> None:  # type: ignore[no-untyped-def]
    transcriber, collect = await started(workers=2, partial_interval_s=0.0)
    alice = tone_bursts([(0.3, 0.7)], 2.0)
    bob = tone_bursts([(0.3, 0.6), (1.2, 1.5)], 2.0, hz=880)
    await asyncio.gather(_play(transcriber, "alice", alice), _play(transcriber, "bob", bob))
    transcriber.end("alice")
    transcriber.end("bob")
    await collect.wait(lambda ev: collect.words("alice") >= 1 and collect.words("bob") >= 2)
    await transcriber.aclose()
    assert collect.words("alice") == 1
    assert any(isinstance(e, Partial) and e.source == "alice" and e.text == WORD for e in collect.events)


async def test_audio_is_dropped_and_reported_when_recognition_falls_behind(started) -> None:  # type: ignore[no-untyped-def]
    transcriber, collect = await started(workers=1, max_backlog_s=0.3)
    pcm = tone_bursts([(0.2, 0.5)], 6.0)
    for piece, at in chunks(pcm):  # 6 s at once: far faster than anything can recognise
        transcriber.feed("alice", piece, at, 30)
    transcriber.end("alice")
    await collect.wait(lambda ev: any(isinstance(e, Dropped) for e in ev))
    await transcriber.aclose()
    dropped = [e for e in collect.events if isinstance(e, Dropped)]
    assert dropped[0].reason == "behind" and dropped[0].seconds >= 5.0
    assert transcriber.dropped_s["behind"] == pytest.approx(dropped[0].seconds, abs=0.01)


async def test_above_the_cap_the_louder_source_is_recognised(started) -> None:  # type: ignore[no-untyped-def]
    transcriber, collect = await started(workers=2, max_recognizers=1)
    quiet = tone_bursts([(t, t + 0.3) for t in (0.2, 0.8, 1.4, 2.0, 2.6)], 3.0)
    loud = tone_bursts([(0.3, 0.6), (1.0, 1.3)], 2.0)

    async def loud_later() -> None:
        await asyncio.sleep(0.1)  # the quiet one has the only recogniser by now
        await _play(transcriber, "loud", loud, speed=5.0, level=10)

    await asyncio.gather(_play(transcriber, "quiet", quiet, speed=5.0, level=50), loud_later())
    transcriber.end("loud")
    transcriber.end("quiet")
    await collect.wait(lambda ev: collect.words("loud") >= 2
                       and any(isinstance(e, Dropped) and e.source == "quiet" for e in ev))
    await transcriber.aclose()
    busy = [e for e in collect.events if isinstance(e, Dropped) and e.source == "quiet"]
    assert busy[0].reason == "busy" and transcriber.dropped_s["busy"] > 0.5
    assert not any(isinstance(e, Dropped) and e.source == "loud" for e in collect.events)
    assert transcriber.active == 0


async def test_a_recogniser_is_freed_after_silence_and_made_again_for_speech(started) -> None:  # type: ignore[no-untyped-def]
    transcriber, collect = await started(workers=1, idle_s=0.3)
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    await collect.wait(lambda ev: len(collect.finals("alice")) == 1)
    for piece, at in chunks(tone_bursts([], 1.0), start_s=1.0):  # silence, as a muted microphone sends
        transcriber.feed("alice", piece, at, 127)
        await asyncio.sleep(0.1)
    assert transcriber.active == 0
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    transcriber.end("alice")
    await collect.wait(lambda ev: len(collect.finals("alice")) == 2)


async def test_opus_batches_are_decoded_in_the_recognition_process_in_order(started) -> None:  # type: ignore[no-untyped-def]
    transcriber, collect = await started(workers=2, partial_interval_s=0.0)
    packets = opus_packets(tone_bursts(BURSTS, 4.0))
    for n in range(0, len(packets), 5):  # 100 ms batches, as the SFU's tap hands them over
        transcriber.feed_opus("alice", tuple(packets[n:n + 5]), 0.1, n * 0.02, 30)
        await asyncio.sleep(0.01)
    await transcriber.finish("alice")
    words = [w for f in collect.finals("alice") for w in f.utterance.words]
    assert [w.word for w in words] == [WORD] * 3
    for word, (start, end) in zip(words, BURSTS):  # Opus adds a few ms of delay, no more
        assert abs(word.start_s - start) <= 0.1 and abs(word.end_s - end) <= 0.1, (word, start, end)
    assert transcriber.model_cpu_s > 0


async def test_silence_alone_starts_no_recogniser(started) -> None:  # type: ignore[no-untyped-def]
    transcriber, collect = await started(workers=1)
    for piece, at in chunks(tone_bursts([], 1.0)):
        transcriber.feed("alice", piece, at, 127)  # the SFU's level says: silence
    await asyncio.sleep(0.2)
    assert transcriber.active == 0 and transcriber.model_cpu_s == 0.0
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    assert transcriber.active == 1
    await transcriber.finish("alice")
    assert len(collect.finals("alice")) == 1 and not any(isinstance(e, Dropped) for e in collect.events)


async def test_recognition_runs_in_a_process_of_its_own_on_idle_cpu_only(started) -> None:  # type: ignore[no-untyped-def]
    from transcription.worker import BACKGROUND_NICE

    transcriber, collect = await started(workers=2)
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    await transcriber.finish("alice")
    assert collect.words("alice") == 1
    pid = transcriber.worker_pid
    assert pid is not None and pid != os.getpid()
    # Linux keeps policy and nice per thread: every thread of the worker (its pool's, numpy's) must have them
    threads = [int(tid.name) for tid in Path(f"/proc/{pid}/task").iterdir()]
    assert len(threads) >= 2  # the pool's thread is there too
    assert {os.sched_getscheduler(tid) for tid in threads} == {os.SCHED_IDLE}
    assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in threads} == \
        {min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the server itself is not touched


async def test_a_crashed_recognition_process_is_started_again(started, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from transcription import pipeline

    monkeypatch.setattr(pipeline, "RESTART_AFTER_S", 0.1)  # this worker dies young: do not wait the product's 5 s
    transcriber, collect = await started(workers=1, partial_interval_s=0.0)
    await _play(transcriber, "alice", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    await collect.wait(lambda ev: any(isinstance(e, Partial) and e.source == "alice" for e in ev))
    first = transcriber.worker_pid
    assert first is not None
    async with transcriber.worker_changed:
        os.kill(first, signal.SIGKILL)  # as a crash inside libvosk would end it
        await asyncio.wait_for(transcriber.worker_changed.wait_for(
            lambda: transcriber.restarts == 1 and transcriber.worker_pid not in (None, first)), 30)
    await asyncio.wait_for(transcriber.finish("alice"), 5)  # its source failed with the process
    await _play(transcriber, "bob", tone_bursts([(0.2, 0.5)], 1.0), speed=5.0)
    await transcriber.finish("bob")
    assert collect.words("bob") == 1  # the new process recognises


async def test_a_model_that_cannot_be_loaded_is_refused_with_its_reason(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "README").write_text("not a model")
    transcriber = Transcriber(broken, Collector())
    with pytest.raises(RecognitionUnavailable) as refused:
        await transcriber.start()
    assert str(broken) in str(refused.value)
