"""ICE binds inside the configured UDP port range (firewalls open a fixed range), and says
so clearly when the range is exhausted."""

from __future__ import annotations

import logging
import re
import socket

import pytest

from sfu import Sfu
from tests.sfu.clients import ColourTrack, Subscriber, publish, wait_for

CANDIDATE_PORT = re.compile(r"^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host", re.M | re.I)


def free_udp_range(size: int) -> range:
    """A run of ports that are free right now (bound and released to check)."""
    for base in range(41000, 60000, 97):
        ports = range(base, base + size)
        sockets = []
        try:
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("0.0.0.0", port))
            return ports
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free UDP port range found")


async def test_candidates_bind_inside_the_range_and_media_flows() -> None:
    ports = free_udp_range(20)
    sfu = Sfu(udp_ports=ports)
    try:
        pub = await publish(sfu, "r", "alice", ColourTrack((200, 30, 30)))
        answer = sfu._rooms["r"].peers["alice"].publish.pc.localDescription.sdp
        published = [int(p) for p in CANDIDATE_PORT.findall(answer)]
        assert published and all(port in ports for port in published), published

        await sfu.join("r", "bob")
        sub = Subscriber(sfu, "r", "bob")
        track = sfu.tracks("r")[0].track_id
        offer = await sfu.subscribe("r", "bob", [track])
        offered = [int(p) for p in CANDIDATE_PORT.findall(offer)]
        assert offered and all(port in ports for port in offered), offered
        await sub.accept(offer)
        await wait_for(lambda: track in sub.received and sub.received[track].frames >= 10)
        await sub.close()
        await pub.close()
    finally:
        await sfu.close()


async def test_a_client_in_the_same_process_keeps_random_ports() -> None:
    ports = free_udp_range(10)
    sfu = Sfu(udp_ports=ports)
    try:
        client = await publish(sfu, "r", "alice", ColourTrack((30, 200, 30)))
        own = [int(p) for p in CANDIDATE_PORT.findall(client.localDescription.sdp)]
        assert own and not any(port in ports for port in own)
        await client.close()
    finally:
        await sfu.close()


async def test_an_exhausted_range_is_logged_for_the_operator(caplog: pytest.LogCaptureFixture) -> None:
    ports = free_udp_range(1)
    sfu = Sfu(udp_ports=ports)
    try:
        with caplog.at_level(logging.WARNING, logger="sfu"):
            pub = await publish(sfu, "r", "alice", ColourTrack((30, 30, 200)))
            await sfu.join("r", "bob")
            track = sfu.tracks("r")[0].track_id
            offer = await sfu.subscribe("r", "bob", [track])  # needs a second port: none left
        assert not CANDIDATE_PORT.findall(offer or "")
        assert any(f"no free UDP port in {ports.start}-{ports.start}" in r.getMessage() for r in caplog.records)
        await pub.close()
    finally:
        await sfu.close()


@pytest.mark.parametrize("bad", [range(80, 90), range(50000, 50000), range(65530, 65540)])
def test_bad_ranges_are_refused(bad: range) -> None:
    with pytest.raises(ValueError, match="udp_ports"):
        Sfu(udp_ports=bad)
