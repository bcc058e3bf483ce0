"""web.coalesce: a burst of changes becomes few broadcasts, none is lost, costly ones are spaced."""
from __future__ import annotations

import asyncio

import pytest

from web.coalesce import Coalescer

pytestmark = pytest.mark.control


class Recorder:
    """A broadcast that takes `cost` seconds and notes when it ran and which version it carried."""

    def __init__(self, cost: float = 0.0) -> None:
        self.version = 0
        self.cost = cost
        self.sent: list[tuple[float, float, int]] = []  # (start, end, version carried)

    async def send(self) -> None:
        loop = asyncio.get_running_loop()
        start, version = loop.time(), self.version
        await asyncio.sleep(self.cost)
        self.sent.append((start, loop.time(), version))


async def _changes(recorder: Recorder, coalescer: Coalescer, n: int, pause: float) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(n):
        recorder.version += 1
        coalescer.changed()
        await asyncio.sleep(pause)
    return loop.time() - started


async def _settled(recorder: Recorder) -> None:
    for _ in range(200):
        if recorder.sent and recorder.sent[-1][2] == recorder.version:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the last change was never sent: {recorder.sent[-3:]}, version {recorder.version}")


async def test_a_burst_becomes_few_broadcasts_and_the_last_change_is_sent() -> None:
    recorder, interval = Recorder(), 0.05
    coalescer = Coalescer(recorder.send, interval)
    elapsed = await _changes(recorder, coalescer, 100, 0.002)
    await _settled(recorder)
    starts = [s for s, _, _ in recorder.sent]
    assert recorder.sent[0][2] == 1  # the first change of a quiet spell goes at once
    assert len(starts) <= 2 + elapsed / interval
    assert all(b - a >= interval - 1e-3 for a, b in zip(starts, starts[1:]))
    assert [v for _, _, v in recorder.sent] == sorted({v for _, _, v in recorder.sent})  # never an older state


async def test_a_costly_broadcast_is_followed_by_a_longer_gap() -> None:
    recorder, share = Recorder(cost=0.03), 1 / 3
    coalescer = Coalescer(recorder.send, interval=0.005, share=share)
    await _changes(recorder, coalescer, 60, 0.005)
    await _settled(recorder)
    assert len(recorder.sent) >= 2
    for (start, end, _), (next_start, _, _) in zip(recorder.sent, recorder.sent[1:]):
        assert next_start >= start + (end - start) / share - 1e-3, recorder.sent


async def test_nothing_is_sent_after_close() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send, 0.05)
    coalescer.changed()
    await asyncio.sleep(0.01)
    coalescer.changed()  # due later
    coalescer.close()
    await asyncio.sleep(0.1)
    coalescer.changed()
    await asyncio.sleep(0.1)
    assert len(recorder.sent) == 1
