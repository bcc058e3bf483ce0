"""The aiortc internals sfu/ relies on: these fail loudly when an aiortc upgrade moves them."""

from __future__ import annotations

import aiortc
import pytest
from aiortc import RTCPeerConnection

from sfu import aiortc_hooks
from sfu.aiortc_hooks import AiortcIncompatible, SilentTrack, check_compatibility
from tests.sfu.clients import config


def test_pinned_aiortc_version():
    assert aiortc.__version__.startswith("1.16."), (
        "sfu/aiortc_hooks.py was written against aiortc 1.16: re-check every hook")


def test_every_internal_is_present():
    check_compatibility()


def test_a_missing_internal_is_reported_by_name(monkeypatch):
    from aiortc.rtcrtpsender import RTCRtpSender

    monkeypatch.delattr(RTCRtpSender, "_handle_rtcp_packet")
    with pytest.raises(AiortcIncompatible, match="RTCRtpSender._handle_rtcp_packet"):
        check_compatibility()


async def test_silent_track_keeps_the_sender_idle():
    pc = RTCPeerConnection(config())
    track = SilentTrack("video", "peer:0")
    transceiver = pc.addTransceiver(track, direction="sendonly")
    assert transceiver.sender.track.id == "peer:0"
    access = aiortc_hooks.SenderAccess(transceiver.sender)
    access.set_stream_id("peer")
    offer = await pc.createOffer()
    assert "a=msid:peer peer:0" in offer.sdp
    assert access.started is False
    await pc.close()
