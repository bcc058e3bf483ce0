"""Whether a publisher's uplink carries its high camera layer, from what arrives of it.

A commune on a thin link (say 300 kbit/s, lossy) that sends two camera layers (~1.2 Mbit/s
and ~150 kbit/s) loses most of the high layer and, since both share the link, much of the
low layer and the audio too: every viewer then sees a frozen picture, whichever layer it
gets. The SFU sees this first, in the sequence numbers of the high layer it receives:
every :data:`SAMPLE_S` it compares the packets that arrived with those sent (the highest
sequence number's advance). The rule:

* ``ok`` -> ``weak`` when a sample of the high layer lost :data:`LOSS_WEAK` or more. The
  room then forwards that publisher's low layer to everyone, nobody receives its high layer,
  and the publisher is told so (``LayerDemand``) and stops sending it: the link is left to
  the low layer and the audio, which fit.
* ``weak`` -> ``probing`` after :attr:`hold` seconds, if a viewer would get the high layer:
  the publisher is asked to send it again while viewers stay on the low one.
  :data:`CLEAN_SAMPLES` samples in a row under :data:`LOSS_CLEAN` -> ``ok`` (viewers get the
  high layer back); a lossy sample, or :data:`PROBE_S` without the high layer (the publisher
  did not send it) -> ``weak`` with the hold doubled, up to :data:`HOLD_MAX_S`. Weak again
  within :data:`RELAPSE_S` of ``ok`` doubles it too; later, it starts over.

Random loss of a few percent (NACKs repair it) leaves the publisher ``ok``: only loss that
says the link is full counts. A sample needs :data:`MIN_EXPECTED` packets sent, so a layer
the publisher has stopped says nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .uptrack import UpTrack

log = logging.getLogger(__name__)

SAMPLE_S = 1.0
MIN_EXPECTED = 20
LOSS_WEAK = 0.15
LOSS_CLEAN = 0.05
CLEAN_SAMPLES = 5  # while probing both layers are sent: passing then, the high one alone fits
RELAPSE_S = 30.0  # weak again this soon after ok: the probe's verdict was wrong, hold longer
HOLD_MIN_S = 20.0  # a thin commune link rarely mends in seconds; each probe costs it seconds of loss
HOLD_MAX_S = 120.0
PROBE_S = 3.0


class Uplink:
    """One publisher's link, judged by its high camera layer ``high``; calls ``on_change()``
    when :attr:`state` changes. ``should_probe()``: whether a viewer would get the high
    layer if the link carried it (otherwise probing costs the link for nothing)."""

    def __init__(self, high: UpTrack, on_change: Callable[[], None],
                 should_probe: Callable[[], bool]) -> None:
        self.high = high
        self._on_change = on_change
        self._should_probe = should_probe
        self.state = "ok"  # 'ok', 'weak' or 'probing'
        self.hold = HOLD_MIN_S
        self.loss = 0.0
        self.changes = 0
        self._clean = 0
        self._mark = (high.packets, high.highest_seq)
        self._since = 0.0  # loop time of the last change of state
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(SAMPLE_S, self._sample)

    @property
    def weak(self) -> bool:
        """Viewers get the low layer (also while probing)."""
        return self.state != "ok"

    def _sample(self) -> None:
        self._timer = self._loop.call_later(SAMPLE_S, self._sample)
        received, highest = self.high.packets, self.high.highest_seq
        (received0, highest0), self._mark = self._mark, (received, highest)
        expected = highest - highest0
        now = self._loop.time()
        if highest0 >= 0 and expected >= MIN_EXPECTED:
            self.measured(max(0.0, 1 - (received - received0) / expected))
        elif self.state == "weak" and now - self._since >= self.hold:
            if self._should_probe():
                self._set("probing")
        elif self.state == "probing" and now - self._since >= PROBE_S:
            self._fail()

    def measured(self, loss: float) -> None:
        """One sample's loss of the high layer as it arrived (0..1)."""
        self.loss = loss
        if loss >= LOSS_WEAK:
            if self.state == "probing":
                self._fail()
            elif self.state == "ok":
                relapse = self._loop.time() - self._since < RELAPSE_S and self.changes > 0
                self.hold = min(HOLD_MAX_S, self.hold * 2) if relapse else HOLD_MIN_S
                self._set("weak")
            return
        if self.state == "ok":
            return
        self._clean = self._clean + 1 if loss < LOSS_CLEAN else 0
        if self._clean >= CLEAN_SAMPLES:  # (a publisher that ignored the demand recovers too)
            self._set("ok")

    def _fail(self) -> None:
        self.hold = min(HOLD_MAX_S, self.hold * 2)
        self._set("weak")

    def _set(self, state: str) -> None:
        self.state = state
        self._clean = 0
        self._since = self._loop.time()
        self.changes += 1
        log.info("publisher uplink %s", state, extra={"track": self.high.track_id,
                                                      "loss": round(self.loss, 3), "hold_s": self.hold})
        self._on_change()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
