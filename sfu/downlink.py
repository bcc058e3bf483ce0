"""Which camera layer a subscriber's link can take, from its own RTCP.

aiortc has no simulcast and no transport-wide congestion control, so the SFU judges each
subscriber session by what its receiver reports: the fraction of packets lost in each
receiver report and its REMB estimate. Two layers only (high ~1.2 Mbit/s, low ~150 kbit/s)
means no gentle step up: the only way to learn that a link has room again is to try the
high layer. So the rule is a probe with back-off:

* on ``high``: a report losing :data:`LOSS_DOWN` or more, or a REMB below
  :data:`REMB_DOWN` times what the session is sending twice running, switches to ``low``
  (REMB follows the incoming rate, so only a REMB below what is sent means congestion);
* on ``low``: after :attr:`hold` seconds in which every report lost less than
  :data:`LOSS_UP`, try ``high`` again; a probe that falls back within :data:`PROBE_S`
  doubles the hold (up to :data:`HOLD_MAX_S`), one that lasts resets it.

A failed probe costs the subscriber about a second of loss at most every
:data:`HOLD_MAX_S` seconds; the bound is what lets the high layer return within ~10 s of a
link recovering.
"""

from __future__ import annotations

import time
from collections.abc import Callable

LOSS_DOWN = 0.08
LOSS_UP = 0.02
REMB_DOWN = 0.7
REMB_MIN_RATE_BPS = 100_000  # below this the session's rate says nothing about the link
HOLD_MIN_S = 3.0
HOLD_MAX_S = 8.0
PROBE_S = 10.0  # a fall-back this soon after a probe means the probe failed
SETTLE_S = 2.0  # after a switch, reports still describe the previous layer


class Downlink:
    """One subscriber session's link; calls ``on_change()`` when :attr:`layer` changes."""

    def __init__(self, on_change: Callable[[], None], sent_octets: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``sent_octets()``: what the session has sent so far, for the rate REMB is read
        against."""
        self._on_change = on_change
        self._sent_octets = sent_octets
        self._clock = clock
        self._rate_mark: tuple[float, int] | None = None
        self.layer = "high"
        self.hold = HOLD_MIN_S
        self.switches = 0
        self._since = clock()  # last layer change
        self._clean_since = clock()  # start of the current run of clean reports
        self._low_remb = 0
        self.loss = 0.0
        self.remb_bps: int | None = None

    def report(self, fraction_lost: float) -> None:
        """One receiver-report block (``fraction_lost`` 0..1) for a stream of the session."""
        now = self._clock()
        self.loss = fraction_lost
        if fraction_lost >= LOSS_UP:
            self._clean_since = now
        if self.layer == "high":
            if fraction_lost >= LOSS_DOWN and now - self._since >= SETTLE_S / 2:
                self._set("low", now)
        elif now - self._since >= self.hold and now - self._clean_since >= self.hold:
            self._set("high", now)

    def remb(self, bitrate_bps: int) -> None:
        """The receiver's estimate of what it can take (REMB)."""
        self.remb_bps = bitrate_bps
        now, octets = self._clock(), self._sent_octets()
        mark, self._rate_mark = self._rate_mark, (now, octets)
        if mark is None or now - mark[0] < 0.2:
            return
        rate = (octets - mark[1]) * 8 / (now - mark[0])
        if self.layer != "high" or now - self._since < SETTLE_S or rate < REMB_MIN_RATE_BPS:
            self._low_remb = 0
            return
        self._low_remb = self._low_remb + 1 if bitrate_bps < REMB_DOWN * rate else 0
        if self._low_remb >= 2:
            self._set("low", self._clock())

    def _set(self, layer: str, now: float) -> None:
        if layer == "low" and now - self._since < PROBE_S and self.switches:
            self.hold = min(HOLD_MAX_S, self.hold * 2)  # the probe failed
        elif layer == "low":
            self.hold = HOLD_MIN_S
        self.layer = layer
        self._since = self._clean_since = now
        self._low_remb = 0
        self.switches += 1
        self._on_change()
