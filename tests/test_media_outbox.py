"""The per-meeting media signalling outbox (web/media/outbox.py): order kept, media:state
coalesced to the newest value, bounded, and released when idle."""
from __future__ import annotations

import asyncio

import pytest

from web.media.outbox import MAX_QUEUED, Outboxes

pytestmark = pytest.mark.security


async def test_order_coalescing_bound_and_release():
    sent: list[tuple[str, dict]] = []
    gate = asyncio.Event()

    async def send(event: str, data: dict, target: dict) -> None:
        await gate.wait()  # a slow client: everything piles up meanwhile
        sent.append((event, data))

    boxes = Outboxes(send)
    boxes.post(1, ("media:offer", {"meeting_id": 1, "n": 0}, {"to": "a"}))
    for n in range(10_000):  # a client toggling its camera in a loop
        boxes.post(1, ("media:state", {"meeting_id": 1, "video": n}, {}), key=("state", "b"))
    boxes.post(1, ("media:offer", {"meeting_id": 1, "n": 1}, {"to": "a"}))
    for n in range(MAX_QUEUED + 10):
        boxes.post(2, ("media:forwarding", {"meeting_id": 2, "n": n}, {}))
    assert boxes.boxes[2].dropped > 0
    gate.set()
    for _ in range(200):
        if not boxes.boxes:
            break
        await asyncio.sleep(0.01)
    assert not boxes.boxes  # both released once drained
    one = [(e, d) for e, d in sent if d["meeting_id"] == 1]
    assert one == [("media:offer", {"meeting_id": 1, "n": 0}), ("media:state", {"meeting_id": 1, "video": 9999}),
                   ("media:offer", {"meeting_id": 1, "n": 1})]
    assert len([1 for e, d in sent if d["meeting_id"] == 2]) <= MAX_QUEUED
