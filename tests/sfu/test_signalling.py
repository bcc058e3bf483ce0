"""The subscribe-side signalling web/ relies on: one outstanding offer at a time (changes made
meanwhile arrive as a SubscriberOffer event), transceiver reuse, msid labels, state events."""

from __future__ import annotations

import pytest

from sfu import PeerStateChanged, SubscriberOffer
from sfu.sdp import media_sections
from tests.sfu.clients import ColourTrack, Subscriber, ToneTrack, publish, wait_for

pytestmark = pytest.mark.slow


async def test_offers_queue_while_one_is_outstanding_and_transceivers_are_reused(sfu, events):
    alice = await publish(sfu, "r", "alice", ColourTrack((200, 30, 30)), ToneTrack())
    bob = await publish(sfu, "r", "bob", ColourTrack((30, 30, 200)))
    ids = {(t.peer_id, t.kind): t.track_id for t in sfu.tracks("r")}
    await sfu.join("r", "carol")
    carol = Subscriber(sfu, "r", "carol")

    first = await sfu.subscribe("r", "carol", [ids["alice", "video"]])
    assert first is not None
    # a second change before carol answered: no offer now, one event after the answer
    assert await sfu.subscribe("r", "carol", [ids["alice", "audio"]]) is None
    await carol.accept(first)
    queued = [e for e in events if isinstance(e, SubscriberOffer) and e.peer_id == "carol"]
    assert len(queued) == 1
    assert sorted(queued[0].mids.values()) == sorted([ids["alice", "video"], ids["alice", "audio"]])
    await carol.accept(queued[0].sdp)
    sections = media_sections(queued[0].sdp)
    assert {s.msid_track for s in sections} == {ids["alice", "video"], ids["alice", "audio"]}
    await wait_for(lambda: ids["alice", "video"] in carol.received
                   and carol.received[ids["alice", "video"]].frames > 5)

    # unsubscribe alice's video, subscribe bob's: the same m-section carries it
    video_mid = next(m for m, t in sfu.subscriptions("r", "carol").items() if t == ids["alice", "video"])
    await carol.accept(await sfu.unsubscribe("r", "carol", [ids["alice", "video"]]))
    await carol.accept(await sfu.subscribe("r", "carol", [ids["bob", "video"]]))
    assert sfu.subscriptions("r", "carol")[video_mid] == ids["bob", "video"]
    assert len(media_sections(carol.pc.remoteDescription.sdp)) == 2
    # a reused transceiver keeps its receiver's track object (clients map by mid): the
    # track that showed alice now shows bob
    reused = carol.received[ids["alice", "video"]]
    await wait_for(lambda: reused.colours and abs(reused.colours[-1][1][2] - 200) < 40)

    states = {(e.peer_id, e.session) for e in events
              if isinstance(e, PeerStateChanged) and e.state == "connected"}
    assert {("alice", "publish"), ("bob", "publish"), ("carol", "subscribe")} <= states
    for pc in (alice, bob):
        await pc.close()
    await carol.close()


async def test_keyframe_on_request(sfu):
    pub = await publish(sfu, "r", "alice", ColourTrack((200, 30, 30)))
    [video] = sfu.tracks("r")
    up = sfu._rooms["r"].tracks[video.track_id]
    await wait_for(lambda: up.packets > 10)
    sent = up.keyframes.sent
    await sfu.request_keyframe("r", video.track_id)
    await wait_for(lambda: up.keyframes.sent > sent)
    await pub.close()


async def test_screen_share_is_a_third_track_and_always_flows(sfu):
    pub = await publish(sfu, "r", "alice", ColourTrack((200, 30, 30)), ToneTrack(),
                        ColourTrack((30, 200, 30)), sources={"2": "screen"})
    by_source = {t.source: t.track_id for t in sfu.tracks("r")}
    assert set(by_source) == {"camera", "microphone", "screen"}
    await sfu.join("r", "bob")
    bob = Subscriber(sfu, "r", "bob")
    await sfu.set_last_n("r", "bob", 0, [])  # no camera at all …
    await bob.subscribe(by_source["camera"], by_source["screen"])
    screen = lambda: bob.received.get(by_source["screen"])  # noqa: E731
    await wait_for(lambda: screen() is not None and screen().frames > 10)  # … screens still
    assert abs(screen().colours[-1][1][1] - 200) < 40
    camera = bob.received.get(by_source["camera"])
    assert camera is None or camera.frames == 0
    await bob.close()
    await pub.close()


async def test_set_subscriptions_swaps_tracks_in_one_offer(sfu, events):
    alice = await publish(sfu, "r", "alice", ColourTrack((200, 30, 30)), ToneTrack())
    bob = await publish(sfu, "r", "bob", ColourTrack((30, 30, 200)))
    ids = {(t.peer_id, t.kind): t.track_id for t in sfu.tracks("r")}
    await sfu.join("r", "carol")
    carol = Subscriber(sfu, "r", "carol")
    await carol.accept(await sfu.set_subscriptions(
        "r", "carol", [ids["alice", "video"], ids["alice", "audio"], "carol:0", "nobody:1"]))
    assert sorted(sfu.subscriptions("r", "carol").values()) == sorted(
        [ids["alice", "video"], ids["alice", "audio"]])
    assert await sfu.set_subscriptions("r", "carol", [ids["alice", "audio"], ids["alice", "video"]]) is None

    offer = await sfu.set_subscriptions("r", "carol", [ids["alice", "audio"], ids["bob", "video"]])
    assert len(media_sections(offer)) == 2  # bob's video reuses alice's video m-section
    await carol.accept(offer)
    assert sorted(sfu.subscriptions("r", "carol").values()) == sorted(
        [ids["alice", "audio"], ids["bob", "video"]])
    assert not [e for e in events if isinstance(e, SubscriberOffer)]
    for pc in (alice, bob):
        await pc.close()
    await carol.close()
