"""Hostile session descriptions at the SFU: whatever a client sends as an offer or an answer,
the SFU either applies it or refuses it with SdpRefused (a ValueError, which web/ answers
with bad_request), and the peer can still publish a good offer afterwards."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfu.sdp import MAX_SDP_BYTES, SdpRefused, check_description
from tests.sfu.clients import ColourTrack, ToneTrack, config, publish

pytestmark = pytest.mark.security


async def _offer() -> str:
    pc = RTCPeerConnection(config())
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    pc.addTransceiver(ColourTrack((1, 2, 3)), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


@st.composite
def mutations(draw: st.DrawFn, lines: list[str]) -> str:
    """The offer with some lines dropped, duplicated, cut short or replaced by junk."""
    out = []
    for line in lines:
        action = draw(st.sampled_from(["keep"] * 6 + ["drop", "twice", "cut", "junk"]))
        if action == "keep":
            out.append(line)
        elif action == "twice":
            out += [line, line]
        elif action == "cut":
            out.append(line[: draw(st.integers(0, len(line)))])
        elif action == "junk":
            out.append(line[:2] + draw(st.text(max_size=30)))
    return "\r\n".join(out) + "\r\n"


async def test_mutated_offers_are_applied_or_refused_never_raise_otherwise(sfu):
    good = await _offer()
    lines = good.splitlines()
    offers: list[str] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutations(lines))
    def collect(sdp: str) -> None:
        offers.append(sdp)

    collect()
    refused = 0
    for index, sdp in enumerate(offers):
        peer = f"p{index}"
        await sfu.join("r", peer)
        try:
            await sfu.publish("r", peer, sdp)
        except SdpRefused:
            refused += 1
        await sfu.leave("r", peer)
    assert refused > 0
    pc = await publish(sfu, "r", "after", ToneTrack())  # the SFU still takes a good offer
    assert [t.kind for t in sfu.tracks("r")] == ["audio"]
    await pc.close()


@pytest.mark.parametrize("change, reason", [
    (lambda s: "\r\n".join(x for x in s.splitlines() if not x.startswith("a=fingerprint")), "fingerprint"),
    (lambda s: s + "a=x:" + "y" * MAX_SDP_BYTES, "bytes"),
    (lambda s: s.replace("v=0", "v=0\ud800", 1), "surrogate"),
    (lambda s: s + "a=tool:\x00\r\n", "NUL"),
    (lambda s: s + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n" * 20, "m-sections"),
])
async def test_offers_refused_before_aiortc_parses_them(sfu, change, reason):
    sdp = change(await _offer())
    with pytest.raises(SdpRefused, match=reason):
        check_description(sdp, max_sections=16)
    await sfu.join("r", "alice")
    with pytest.raises(SdpRefused):
        await sfu.publish("r", "alice", sdp)


async def test_an_answer_with_no_offer_waiting_is_refused(sfu):
    await sfu.join("r", "bob")
    with pytest.raises(SdpRefused, match="no offer is waiting"):
        await sfu.answer("r", "bob", await _offer())
