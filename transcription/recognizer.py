"""One microphone's recogniser: PCM in, partial texts and final utterances out (blocking code).

Runs in a worker thread, never on the event loop, and is used by one thread at a time (a
Vosk recogniser is not thread-safe). Times in results are seconds on the source's own clock
(the audio tap's: seconds since the microphone's first packet), not Vosk's, which only
counts the samples it was fed: whenever audio was dropped or the microphone paused, the
mapping between the two clocks gets a new breakpoint.
"""
from __future__ import annotations

import bisect
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import vosk

SAMPLE_RATE = 16000
CONTINUITY_S = 0.05  # a jump in source time larger than this is a pause or a drop
RUN_S = 0.2  # contiguous audio given to Vosk in one call, at most
VOICE_DBFS = -50.0  # a batch at least this loud is speech (for the end of a sentence: see Heard.rms_dbfs)


@dataclass(frozen=True)
class Word:
    word: str
    start_s: float  # source clock
    end_s: float
    conf: float


@dataclass(frozen=True)
class Utterance:
    text: str
    words: tuple[Word, ...]
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Heard:
    """What one batch of audio produced: the latest partial text, finished utterances, loudness."""

    partial: str
    finals: tuple[Utterance, ...]
    rms_dbfs: float  # loudness of the batch, for the silence timer and the end of speech


def rms_dbfs(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    return 20 * np.log10(max(rms, 1e-3) / 32768.0)


class StreamRecognizer:
    def __init__(self, model: vosk.Model) -> None:
        self._recognizer = vosk.KaldiRecognizer(model, SAMPLE_RATE)
        self._recognizer.SetWords(True)
        self._fed_s = 0.0  # audio given to Vosk so far
        self._next_source_s: float | None = None
        # breakpoints: Vosk time -> source time at the same instant
        self._vosk_marks: list[float] = []
        self._source_marks: list[float] = []
        self.model_cpu_s = 0.0  # CPU time spent inside libvosk: the model's own decoding, for the metric

    def _to_source(self, vosk_s: float) -> float:
        i = max(0, bisect.bisect_right(self._vosk_marks, vosk_s) - 1)
        return round(self._source_marks[i] + (vosk_s - self._vosk_marks[i]), 3)

    def _utterance(self, result: dict[str, Any]) -> Utterance | None:
        words = tuple(
            Word(w["word"], self._to_source(w["start"]), self._to_source(w["end"]), float(w.get("conf", 1.0)))
            for w in result.get("result", [])
        )
        text = result.get("text", "").strip()
        if not text or not words:
            return None
        return Utterance(text, words, words[0].start_s, words[-1].end_s)

    def accept(self, chunks: list[tuple[bytes, float]]) -> Heard:
        """Feed (pcm, source time) chunks in order; returns what became known. Contiguous chunks
        go to Vosk together, up to RUN_S at a time: a call into libvosk has a fixed cost (a
        100 ms batch of five 20 ms chunks costs a third less as one call)."""
        runs: list[list[bytes]] = []
        run_s = 0.0
        for pcm, source_s in chunks:
            seconds = len(pcm) / 2 / SAMPLE_RATE
            if self._next_source_s is None or abs(source_s - self._next_source_s) > CONTINUITY_S:
                self._vosk_marks.append(self._fed_s)  # results are mapped back through these marks
                self._source_marks.append(source_s)
                runs.append([])
                run_s = 0.0
            elif not runs or run_s + seconds > RUN_S:
                runs.append([])
                run_s = 0.0
            runs[-1].append(pcm)
            run_s += seconds
            self._fed_s += seconds
            self._next_source_s = source_s + seconds
        finals: list[Utterance] = []
        joined = [pieces[0] if len(pieces) == 1 else b"".join(pieces) for pieces in runs]
        vosk_s, begin = 0.0, time.thread_time()
        for pcm in joined:
            result = self._recognizer.Result() if self._recognizer.AcceptWaveform(pcm) else ""
            if '"result"' in result:  # after an endpoint Vosk reports each chunk of silence as empty
                vosk_s += time.thread_time() - begin
                utterance = self._utterance(json.loads(result))
                if utterance is not None:
                    finals.append(utterance)
                begin = time.thread_time()
        partial_json = self._recognizer.PartialResult()
        self.model_cpu_s += vosk_s + time.thread_time() - begin
        partial = json.loads(partial_json).get("partial", "").strip()
        return Heard(partial, tuple(finals), rms_dbfs(joined[0] if len(joined) == 1 else b"".join(joined)))

    def finish(self) -> Utterance | None:
        """End of the stream (silence timeout, eviction, the microphone left): flush the rest."""
        begin = time.thread_time()
        result = self._recognizer.FinalResult()
        self.model_cpu_s += time.thread_time() - begin
        return self._utterance(json.loads(result))
