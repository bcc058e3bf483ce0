"""Descriptors: a subscriber session sends on one duplicated socket descriptor, whatever the
number of its down-tracks, so a meeting does not run the process out of descriptors."""

from __future__ import annotations

import os
import resource

from tests.sfu.clients import Subscriber, ToneTrack, publish, wait_for

PUBLISHERS = 8
SUBSCRIBERS = 6
HEADROOM = 30  # descriptors left under the lowered limit: fewer than the down-tracks below


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_more_down_tracks_than_the_descriptor_limit_allows_all_forward(sfu):
    pubs = [await publish(sfu, "r", f"p{i}", ToneTrack(0.2)) for i in range(PUBLISHERS)]
    tracks = [t.track_id for t in sfu.tracks("r")]
    assert len(tracks) == PUBLISHERS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = open_descriptors()
    # the process may open only HEADROOM more descriptors: one per down-track would not fit
    resource.setrlimit(resource.RLIMIT_NOFILE, (before + HEADROOM, hard))
    subs: list[Subscriber] = []
    try:
        for i in range(SUBSCRIBERS):
            await sfu.join("r", f"s{i}")
            sub = Subscriber(sfu, "r", f"s{i}")
            await sub.subscribe(*tracks)
            subs.append(sub)
        down_tracks = [d for s in subs for d in sfu._rooms["r"].peers[s.peer].subscribe.down.values()]
        assert len(down_tracks) == PUBLISHERS * SUBSCRIBERS > HEADROOM
        await wait_for(lambda: all(len(s.received) == PUBLISHERS
                                   and all(r.frames >= 25 for r in s.received.values())
                                   for s in subs), timeout=40)
        assert all(d.writer.drops == 0 for d in down_tracks)
        # the SFU's share: per subscriber one ICE socket and one duplicate of it
        assert open_descriptors() - before <= HEADROOM
        routes = {id(d.writer.route) for d in down_tracks}
        assert len(routes) == SUBSCRIBERS
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for sub in subs:
            await sub.close()
        for pc in pubs:
            await pc.close()
