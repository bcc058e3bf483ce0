import asyncio

from tests.sfu.clients import ColourTrack, Subscriber, ToneTrack, publish, wait_for


async def test_forward(sfu):
    pub = await publish(sfu, "r", "alice", ColourTrack((200, 30, 30)), ToneTrack())
    tracks = sfu.tracks("r")
    print(tracks)
    await sfu.join("r", "bob")
    sub = Subscriber(sfu, "r", "bob")
    await sub.subscribe(*[t.track_id for t in tracks])
    await wait_for(lambda: all(r.frames > 20 for r in sub.received.values()) and len(sub.received) == 2, 20)
    print({k: (v.frames, v.colours[-1:] , v.energy[-1:]) for k, v in sub.received.items()})
    await sub.close()
    await pub.close()
