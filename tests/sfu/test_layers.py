"""Slot assignment (sfu/view.py) and the layer a subscriber's link gets (sfu/downlink.py),
on their own: stable slots, and a probe with back-off that brings the high layer back."""

from __future__ import annotations

from sfu.downlink import HOLD_MAX_S, HOLD_MIN_S, Downlink
from sfu.view import assign, loudest_slot, slot_index, slot_kind, thumbnail_slot


def test_a_source_that_stays_wanted_keeps_its_slot():
    assert assign(["b", "x"], ["a", "b"], keep_unwanted=False) == ["b", "a"]
    assert assign([None, None], ["a", "b", "c"], keep_unwanted=False) == ["a", "b"]
    assert assign(["a", "b"], ["a"], keep_unwanted=False) == ["a", None]


def test_microphones_stay_until_someone_needs_the_slot():
    assert assign(["a", "b"], [], keep_unwanted=True) == ["a", "b"]
    assert assign(["a", "b"], ["c"], keep_unwanted=True) == ["c", "b"]
    assert assign(["a", "b"], ["b", "c"], keep_unwanted=True) == ["c", "b"]


def test_slot_ids():
    assert [slot_kind(x) for x in ("active-speaker", thumbnail_slot(3), loudest_slot(0),
                                   "p1:0", "thumbnail-x")] == [
        "speaker", "thumbnail", "loudest", None, None]
    assert slot_index(thumbnail_slot(12)) == 12


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_loss_drops_to_low_and_a_clean_link_gets_high_back_after_the_hold():
    clock = Clock()
    changes: list[str] = []
    link = Downlink(lambda: changes.append(link.layer), lambda: 0, clock)
    clock.now += 5
    link.report(0.01)
    assert link.layer == "high"
    link.report(0.30)
    assert changes == ["low"]
    clock.now += HOLD_MIN_S / 2
    link.report(0.0)
    assert link.layer == "low"  # not yet: the hold
    clock.now += HOLD_MIN_S
    link.report(0.0)
    assert changes == ["low", "high"]


def test_a_failed_probe_doubles_the_hold_up_to_its_bound():
    clock = Clock()
    link = Downlink(lambda: None, lambda: 0, clock)
    clock.now += 5
    link.report(0.5)
    holds = []
    for _ in range(4):
        while link.layer == "low":
            clock.now += 0.5
            link.report(0.0)
        clock.now += 1.5  # the probe: loss again at once
        link.report(0.5)
        holds.append(link.hold)
    assert holds == [HOLD_MIN_S * 2, HOLD_MAX_S, HOLD_MAX_S, HOLD_MAX_S]


def test_a_remb_below_the_rate_sent_drops_to_low_and_a_loss_in_the_hold_restarts_it():
    clock = Clock()
    sent = [0]
    link = Downlink(lambda: None, lambda: sent[0], clock)

    def second(remb: int, rate_bps: int) -> None:
        clock.now += 1
        sent[0] += rate_bps // 8
        link.remb(remb)

    clock.now += 5
    second(2_000_000, 1_200_000)
    second(2_000_000, 1_200_000)
    second(500_000, 200_000)  # a REMB that follows a low incoming rate is no congestion
    second(500_000, 200_000)
    second(500_000, 200_000)
    assert link.layer == "high"
    second(500_000, 1_200_000)
    assert link.layer == "high"  # once is noise
    second(500_000, 1_200_000)
    assert link.layer == "low"
    clock.now += HOLD_MIN_S - 0.5
    link.report(0.05)  # not clean
    clock.now += 1.0
    link.report(0.0)
    assert link.layer == "low"
    clock.now += HOLD_MIN_S
    link.report(0.0)
    assert link.layer == "high"
