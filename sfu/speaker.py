"""Active speaker and loudest-N selection from RFC 6464 audio levels.

Input is the level every audio packet carries (0 = loudest, 127 = silence, in -dBov), so the
SFU never decodes audio to find who speaks. Each track's loudness is smoothed; the dominant
speaker changes only when another track has been louder by :attr:`margin_db` for
:attr:`hold_s` (or the current one fell silent), so coughs and crosstalk do not flip the video.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class SpeakerDetector(Generic[K]):
    def __init__(self, *, speech_dbov: int = 50, margin_db: float = 6.0, hold_s: float = 0.3,
                 smoothing: float = 0.15, evaluate_every_s: float = 0.1) -> None:
        self.speech_loudness = 127 - speech_dbov
        self.margin_db = margin_db
        self.hold_s = hold_s
        self.smoothing = smoothing
        self.evaluate_every_s = evaluate_every_s
        self.loudness: dict[K, float] = {}
        self.current: K | None = None
        self.recent: list[K] = []  # dominant speakers, most recent first
        self._challenger: K | None = None
        self._challenger_since = 0.0
        self._last_evaluation = 0.0

    def add(self, key: K, level: int, now: float | None = None) -> bool:
        """Record one packet's level; True when it is time to call :meth:`evaluate`."""
        loudness = 127 - level
        previous = self.loudness.get(key)
        self.loudness[key] = loudness if previous is None else (
            previous + self.smoothing * (loudness - previous))
        now = time.monotonic() if now is None else now
        if now - self._last_evaluation >= self.evaluate_every_s:
            self._last_evaluation = now
            return True
        return False

    def evaluate(self, now: float | None = None) -> bool:
        """Update :attr:`current`; True if it changed."""
        now = time.monotonic() if now is None else now
        speaking = {k: v for k, v in self.loudness.items() if v >= self.speech_loudness}
        if not speaking:
            self._challenger = None
            return False
        best = max(speaking, key=speaking.__getitem__)
        if best == self.current:
            self._challenger = None
            return False
        current_loudness = self.loudness.get(self.current, 0.0) if self.current is not None else 0.0
        if (self.current is not None and current_loudness >= self.speech_loudness
                and speaking[best] < current_loudness + self.margin_db):
            self._challenger = None
            return False
        if self._challenger != best:
            self._challenger, self._challenger_since = best, now
            return False
        if now - self._challenger_since < self.hold_s:
            return False
        self._challenger = None
        self.current = best
        self.recent = [best] + [k for k in self.recent if k != best]
        return True

    def loudest(self, n: int) -> list[K]:
        """The ``n`` loudest tracks; the dominant speaker is always among them."""
        ranked = sorted(self.loudness, key=self.loudness.__getitem__, reverse=True)
        chosen = ranked[:n]
        if self.current is not None and self.current not in chosen and n > 0:
            chosen = [self.current] + chosen[:n - 1]
        return chosen

    def remove(self, key: K) -> bool:
        """Forget a track; True if it was the dominant speaker (now None)."""
        self.loudness.pop(key, None)
        self.recent = [k for k in self.recent if k != key]
        if self._challenger == key:
            self._challenger = None
        if self.current == key:
            self.current = None
            return True
        return False
