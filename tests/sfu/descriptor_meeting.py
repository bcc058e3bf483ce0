"""Run by tests/sfu/test_descriptors.py in a fresh process: publishers and subscribers of
audio, every subscriber taking every track, under a descriptor limit set after the first
subscriber joined: room for the others' sockets, not for a descriptor per down-track.
Prints what each down-track delivered as JSON. A process of its own, so that no other
test's sockets count; the limit is measured, not fixed, because each peer connection binds
a socket per local address and the machine's addresses vary."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys

from sfu import Sfu
from tests.sfu.clients import Subscriber, ToneTrack, publish, wait_for

MARGIN = 16  # transient descriptors (netlink while gathering, aiortc's DTLS set-up)


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def main(publishers: int, subscribers: int) -> dict[str, object]:
    sfu = Sfu()
    pubs = [await publish(sfu, "r", f"p{i}", ToneTrack(0.2)) for i in range(publishers)]
    tracks = [t.track_id for t in sfu.tracks("r")]
    subs: list[Subscriber] = []

    async def join(i: int) -> None:
        await sfu.join("r", f"s{i}")
        sub = Subscriber(sfu, "r", f"s{i}")
        await sub.subscribe(*tracks)
        subs.append(sub)

    try:
        before = descriptors()
        await join(0)
        per_subscriber = descriptors() - before
        headroom = per_subscriber * (subscribers - 1) + MARGIN
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (descriptors() + headroom, hard))
        for i in range(1, subscribers):
            await join(i)
        downs = [d for s in subs for d in sfu._rooms["r"].peers[s.peer].subscribe.down.values()]
        try:
            await wait_for(lambda: all(len(s.received) == publishers
                                       and all(r.frames >= 10 for r in s.received.values())
                                       for s in subs), timeout=60)
        except TimeoutError:
            pass
        return {
            "down_tracks": len(downs),
            "down_tracks_under_limit": publishers * (subscribers - 1),
            "headroom": headroom,
            "frames": [sorted(r.frames for r in s.received.values()) for s in subs],
            "drops": sum(d.writer.drops for d in downs),
            "routes": len({id(d.writer.route) for d in downs}),
        }
    finally:
        for sub in subs:
            await sub.close()
        for pc in pubs:
            await pc.close()
        await sfu.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))))
