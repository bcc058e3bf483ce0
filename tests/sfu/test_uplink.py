"""A publisher's uplink judged by what arrives of its high camera layer (sfu/uplink.py): a
real UpTrack fed RTP packets with gaps, and the states with shortened holds."""
from __future__ import annotations

import asyncio
import struct

import pytest

import sfu.uplink as uplink_module
from sfu.packet import ExtensionIds, parse_rtp
from sfu.uplink import CLEAN_SAMPLES, Uplink
from sfu.uptrack import UpTrack

VP8_PAYLOAD = b"\x10\x00" + bytes(20)  # payload descriptor (start of partition) + a frame's bytes


def rtp(seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 96, seq & 0xFFFF, seq * 3000, 1234) + VP8_PAYLOAD


def high_layer() -> UpTrack:
    return UpTrack(track_id="p:1", peer_id="p", kind="video", source="camera",
                   mime_type="video/VP8", clock_rate=90000, send_pli=lambda: None)


def feed(up: UpTrack, first: int, count: int, every_nth_lost: int | None = None) -> None:
    for seq in range(first, first + count):
        if every_nth_lost and seq % every_nth_lost == 0:
            continue
        view = parse_rtp(rtp(seq), ExtensionIds())
        assert view is not None
        up.handle(view)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uplink_module, "HOLD_MIN_S", 0.2)
    monkeypatch.setattr(uplink_module, "HOLD_MAX_S", 0.8)
    monkeypatch.setattr(uplink_module, "PROBE_S", 0.2)


async def test_a_lossy_high_layer_makes_the_uplink_weak_and_random_loss_does_not() -> None:
    up, changes = high_layer(), []
    link = Uplink(up, lambda: changes.append(link.state), lambda: True)
    try:
        feed(up, 0, 100)
        link._sample()  # the baseline
        feed(up, 100, 100, every_nth_lost=20)  # 5 % random loss: NACKs repair it
        link._sample()
        assert link.state == "ok" and abs(link.loss - 0.05) < 0.01
        feed(up, 200, 100, every_nth_lost=3)  # a full link: a third lost
        link._sample()
        assert link.state == "weak" and link.weak and changes == ["weak"]
        assert 0.3 < link.loss < 0.36
    finally:
        link.close()


async def test_probes_after_the_hold_back_off_when_they_fail_and_restore_the_high_layer(quick: None) -> None:
    up, changes, wanted = high_layer(), [], [False]
    link = Uplink(up, lambda: changes.append(link.state), lambda: wanted[0])
    try:
        link.measured(0.4)
        assert link.state == "weak"
        await asyncio.sleep(0.3)
        link._sample()  # no high layer arrives (the publisher stopped it), but nobody would watch it
        assert link.state == "weak"
        wanted[0] = True
        link._sample()
        assert link.state == "probing" and link.weak  # viewers stay on the low layer meanwhile
        link.measured(0.3)  # the probe fails: the hold doubles
        assert link.state == "weak" and link.hold == pytest.approx(0.4)
        await asyncio.sleep(0.45)
        link._sample()
        assert link.state == "probing"
        await asyncio.sleep(0.25)
        link._sample()  # the publisher sent nothing within PROBE_S: failed too
        assert link.state == "weak" and link.hold == pytest.approx(0.8)
        await asyncio.sleep(0.85)
        link._sample()
        for _ in range(CLEAN_SAMPLES - 1):
            link.measured(0.01)
            assert link.state == "probing"
        link.measured(0.01)
        assert link.state == "ok" and not link.weak
        link.measured(0.5)  # relapse soon after: the probe's verdict was wrong, the hold stays long
        assert link.state == "weak" and link.hold == pytest.approx(0.8)
        assert changes == ["weak", "probing", "weak", "probing", "weak", "probing", "ok", "weak"]
    finally:
        link.close()
