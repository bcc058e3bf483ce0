"""Sender reports to a subscriber: one compound RTCP packet per session and interval, with
an SR for every track it receives, whose fields aiortc's receiver accepts (it computes the
round-trip time from them on the SFU's side)."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.rtp import RtcpPacket, RtcpSdesPacket, RtcpSrPacket

from sfu.sdp import media_sections
from tests.sfu.clients import ColourTrack, Subscriber, ToneTrack, publish, wait_for

pytestmark = pytest.mark.slow  # a few seconds of real media


async def test_one_compound_report_covers_every_track_of_the_session(sfu):
    pub = await publish(sfu, "r", "alice", ColourTrack((20, 200, 20)), ToneTrack(0.3))
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(*(t.track_id for t in sfu.tracks("r")))
    await wait_for(lambda: len(sub.received) == 2 and all(r.frames > 5 for r in sub.received.values()))

    dtls = sub.pc.getTransceivers()[0].receiver.transport
    original = dtls._handle_rtcp_data
    datagrams: list[list[object]] = []

    async def spy(data: bytes) -> None:
        datagrams.append(RtcpPacket.parse(data))
        await original(data)

    dtls._handle_rtcp_data = spy
    await asyncio.sleep(3.5)
    sender_ssrcs = {section.ssrcs[0] for section in media_sections(sub.pc.remoteDescription.sdp)}
    with_reports = [d for d in datagrams if any(isinstance(p, RtcpSrPacket) for p in d)]
    assert len(with_reports) >= 2  # about one a second
    for datagram in with_reports:
        assert {p.ssrc for p in datagram if isinstance(p, RtcpSrPacket)} == sender_ssrcs
        [sdes] = [p for p in datagram if isinstance(p, RtcpSdesPacket)]
        assert {chunk.ssrc for chunk in sdes.chunks} == sender_ssrcs
    latest = [p for p in with_reports[-1] if isinstance(p, RtcpSrPacket)]
    assert all(p.sender_info.packet_count > 0 for p in latest)  # filled from the forwarding path

    down = next(iter(sfu._rooms["r"].peers["bob"].subscribe.down.values()))
    async def round_trip_known() -> bool:
        stats = await down.transceiver.sender.getStats()
        return any(getattr(s, "roundTripTime", None) is not None for s in stats.values())
    for _ in range(40):
        if await round_trip_known():
            break
        await asyncio.sleep(0.25)
    assert await round_trip_known()
    await sub.close()
    await pub.close()
