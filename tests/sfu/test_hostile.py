"""Hostile datagrams at a live room (real aiortc peers on loopback): from a stranger to the
SFU's ICE port, and from the publisher and the subscriber themselves inside their SRTP
sessions. Each is dropped and counted; both peers' sessions stay up and the subscriber keeps
decoding an unbroken stream."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCDtlsTransport

from sfu.aiortc_hooks import HOSTILE_REMB
from sfu.drops import DROPS
from tests.sfu.clients import ColourTrack, Subscriber, ToneTrack, publish, wait_for

pytestmark = pytest.mark.security
RED = (200, 30, 30)


def _dtls(pc: RTCPeerConnection) -> RTCDtlsTransport:
    return pc.getTransceivers()[0].receiver.transport


def _sender(pc: RTCPeerConnection, kind: str):  # type: ignore[no-untyped-def]
    return next(t.sender for t in pc.getTransceivers() if t.kind == kind)


def _payload_type(pc: RTCPeerConnection, kind: str, rtx: bool = False) -> int:
    transceiver = next(t for t in pc.getTransceivers() if t.kind == kind)
    return next(c.payloadType for c in transceiver._codecs
                if c.mimeType.lower().endswith("/rtx") == rtx)


def _sfu_address(sfu, peer: str) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """The SFU's end of the peer's publish session: where its media arrives."""
    pc = sfu._rooms["r"].peers[peer].publish.pc
    pair = _dtls(pc).transport._connection._nominated[1]
    return pair.local_candidate.host, pair.local_candidate.port


def _rtp(pt: int, seq: int, ssrc: int, payload: bytes = b"\x90\x80\x00" + bytes(20),
         extension: bytes = b"") -> bytes:
    b0 = 0x90 if extension else 0x80
    return struct.pack("!BBHII", b0, pt, seq & 0xFFFF, 12345, ssrc) + extension + payload


async def _streaming(sub: Subscriber, track_ids: list[str], more: int) -> None:
    """Wait until every track has decoded ``more`` further frames."""
    start = {t: sub.received[t].frames for t in track_ids}
    await wait_for(lambda: all(sub.received[t].frames >= start[t] + more for t in track_ids))


async def test_hostile_datagrams_neither_end_sessions_nor_stall_the_stream(sfu):
    pub = await publish(sfu, "r", "alice", ColourTrack(RED), ToneTrack(0.3))
    tracks = {t.kind: t.track_id for t in sfu.tracks("r")}
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(tracks["video"], tracks["audio"])
    await wait_for(lambda: all(t in sub.received and sub.received[t].frames > 5
                               for t in tracks.values()))
    seen = sub.spy_rtp()
    before = DROPS.copy()

    # a stranger, without keys, at the SFU's ICE port
    address = _sfu_address(sfu, "alice")
    stranger = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_DGRAM)
    for datagram in (b"\x80" + bytes(2999),                 # libsrtp: "packet is too long"
                     b"\x81\xc8" + bytes(2998),             # the same as SRTCP
                     bytes.fromhex("0001000521120442") + bytes(12) + bytes.fromhex("0024000100"),
                     b"\x80\x60" + bytes(40),               # SRTP that fails authentication
                     b"\x17" + bytes(50)):                  # a DTLS record from nowhere
        for _ in range(20):
            stranger.sendto(datagram, address)
    stranger.close()

    # the publisher itself, inside its SRTP session
    dtls = _dtls(pub)
    video = _sender(pub, "video")
    video_pt, rtx_pt = _payload_type(pub, "video"), _payload_type(pub, "video", rtx=True)
    audio_pt = _payload_type(pub, "audio")
    route = sfu._rooms["r"].peers["alice"].publish._routes[video._ssrc][0]
    current = route.sequence.max_seq
    # (fresh SSRCs only: the test publisher's own SRTP sender refuses to reuse an index)
    hostile = [
        HOSTILE_REMB,                                             # struct.error in route_rtcp
        _rtp(video_pt, current + 20000, 0x5EED),                  # unannounced SSRC, video's PT
        _rtp(audio_pt, 1, 0x5EED + 1),                            # the same on audio
        _rtp(rtx_pt, 1, 0x5EED + 2, struct.pack("!H", (current + 30000) & 0xFFFF) + bytes(30)),
        _rtp(audio_pt, 0, 0x5EED + 3, b"", b"\xbe\xde\x00\x01\x00\x00\x00\x10"),  # ext runs out
        _rtp(0x7F, 1, 0x5EED + 4),                                # a payload type nobody uses
    ]
    for data in hostile:
        await dtls._send_rtp(data)
    # the subscriber's own feedback path: the same REMB, and a NACK for nothing
    await _dtls(sub.pc)._send_rtp(HOSTILE_REMB)

    await _streaming(sub, list(tracks.values()), more=20)
    delta = {reason: DROPS[reason] - before[reason] for reason in DROPS if DROPS[reason] != before[reason]}
    for reason in ("srtp_too_long", "srtcp_too_long", "stun_malformed", "srtp_rejected",
                   "rtcp_malformed", "rtp_out_of_stream", "rtx_out_of_stream",
                   "rtp_unknown_ssrc"):
        assert delta.get(reason, 0) > 0, (reason, delta)
    assert "rtp_unhandled" not in delta and "rtcp_unhandled" not in delta, delta
    assert pub.connectionState == sub.pc.connectionState == "connected"
    for pc in (sfu._rooms["r"].peers["alice"].publish.pc, sfu._rooms["r"].peers["bob"].subscribe.pc):
        assert pc.connectionState == "connected"
    # what the subscriber received stayed one stream per track: no jump in sequence numbers
    video_ssrc = {p[8:12] for p in seen if p[1] & 0x7F == _payload_type(sub.pc, "video")}
    assert len(video_ssrc) == 1
    sequence = [struct.unpack_from("!H", p, 2)[0] for p in seen if p[8:12] in video_ssrc]
    assert max((b - a) & 0xFFFF for a, b in zip(sequence, sequence[1:]) if (b - a) & 0xFFFF < 0x8000) < 50
    await sub.close()
    await pub.close()


async def test_a_stream_that_restarts_with_a_new_ssrc_and_sequence_is_resynchronised(sfu):
    pub = await publish(sfu, "r", "alice", ToneTrack(0.3))
    [audio_track] = [t.track_id for t in sfu.tracks("r")]
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(audio_track)
    await wait_for(lambda: audio_track in sub.received and sub.received[audio_track].frames > 5)
    seen = sub.spy_rtp()

    # from now on the publisher's packets carry another SSRC and jump 30,000 in sequence, as
    # a client that restarted its encoder would send them
    dtls = _dtls(pub)
    original = dtls._send_rtp

    async def restarted(data: bytes) -> None:
        if 127 < data[0] < 192 and not 191 < data[1] < 224:
            seq = (struct.unpack_from("!H", data, 2)[0] + 30000) & 0xFFFF
            data = data[:2] + struct.pack("!H", seq) + data[4:8] + struct.pack("!I", 0xABCDEF) + data[12:]
        await original(data)

    dtls._send_rtp = restarted
    mark = len(seen)
    await _streaming(sub, [audio_track], more=50)
    after = seen[mark:]
    sequence = [struct.unpack_from("!H", p, 2)[0] for p in after]
    assert len({p[8:12] for p in after}) == 1  # the subscriber still sees its one SSRC
    gaps = [(b - a) & 0xFFFF for a, b in zip(sequence, sequence[1:])]
    assert max(gaps) <= 3, gaps  # continuous: the 30,000 jump was absorbed
    up = sfu._rooms["r"].tracks[audio_track]
    route = sfu._rooms["r"].peers["alice"].publish._routes[0xABCDEF][0]
    assert route.media_ssrc == 0xABCDEF and route.up is up
    await sub.close()
    await pub.close()


async def test_churn_never_offers_one_msid_twice(sfu):
    """Chromium refuses an offer with duplicate a=msid lines (seen under join/leave churn:
    an idle section kept the id of a track later subscribed again on another section)."""
    pubs = [await publish(sfu, "r", name, ColourTrack(RED)) for name in ("w", "x")]
    track_w, track_x = (t.track_id for t in sfu.tracks("r"))
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(track_w, track_x)
    await sub.accept(await sfu.set_subscriptions("r", "bob", []))
    offer = await sfu.set_subscriptions("r", "bob", [track_x])
    msids = [line for line in offer.splitlines() if line.startswith("a=msid:")]
    assert len(msids) == len(set(msids)) == 2 and sum(track_x in m for m in msids) == 1
    await sub.accept(offer)
    await sub.close()
    for pc in pubs:
        await pc.close()


async def test_a_command_that_waited_behind_a_leave_finds_the_peer_gone(sfu):
    """Seen in the soak: a subscribe that queued behind its peer's leave ran on the closed
    session and raised aiortc's InvalidStateError (an internal error for the client)."""
    pub = await publish(sfu, "r", "alice", ColourTrack(RED))
    (track,) = (t.track_id for t in sfu.tracks("r"))
    await sfu.join("r", "bob")
    busy = sfu._locks["r", "bob"]  # bob's previous command still runs ...
    await busy.acquire()
    leaving = asyncio.ensure_future(sfu.leave("r", "bob"))  # ... his leave queues behind it,
    subscribing = asyncio.ensure_future(sfu.subscribe("r", "bob", [track]))  # and this after
    await asyncio.sleep(0)
    busy.release()
    await leaving
    with pytest.raises(KeyError, match="bob"):
        await subscribing
    assert "bob" not in sfu._rooms["r"].peers
    await pub.close()


async def test_a_subscriber_that_ends_its_connection_first_is_an_expected_state(sfu):
    """aiortc closes the SFU's side by itself once the client has ended DTLS, which a browser
    does before its signalling connection is seen to drop. Seen in the soak: a subscribe, or the
    offer that another peer's leave sends, then raised InvalidStateError."""
    pubs = [await publish(sfu, "r", name, ColourTrack(RED)) for name in ("w", "x")]
    track_w, track_x = (t.track_id for t in sfu.tracks("r"))
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(track_w)
    server_side = sfu._rooms["r"].peers["bob"].subscribe.pc
    await wait_for(lambda: server_side.connectionState == "connected")
    await sub.pc.close()  # the client ends its side; bob's signalling is still there
    await wait_for(lambda: server_side.signalingState == "closed")
    with pytest.raises(KeyError, match="closed"):
        await sfu.subscribe("r", "bob", [track_x])
    await sfu.leave("r", "w")  # bob subscribed to w: its leave offers bob the change
    await sfu.leave("r", "bob")
    assert "bob" not in sfu._rooms["r"].peers
    for pc in pubs:
        await pc.close()


async def test_the_offer_a_leave_owes_a_subscriber_who_left_meanwhile_is_dropped(sfu):
    """Seen in the soak: alice's leave owed bob an offer without her track, but bob's own leave
    ran first; the offer's turn then raised out of alice's leave."""
    pub = await publish(sfu, "r", "alice", ColourTrack(RED))
    (track,) = (t.track_id for t in sfu.tracks("r"))
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(track)
    bobs = sfu._locks["r", "bob"]
    await bobs.acquire()  # bob's previous command still runs ...
    bob_leaves = asyncio.ensure_future(sfu.leave("r", "bob"))  # ... his leave waits for it,
    alice_leaves = asyncio.ensure_future(sfu.leave("r", "alice"))  # and the offer alice owes him after that
    await wait_for(lambda: len(bobs._waiters or ()) == 2)
    bobs.release()
    await bob_leaves
    await alice_leaves  # raises nothing
    assert sfu._rooms.get("r") is None or not sfu._rooms["r"].peers
    await sub.pc.close()
    await pub.close()
