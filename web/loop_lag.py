"""How late the event loop runs callbacks: the one figure that says whether anything (a slow
handler, CPU work that should be in an executor) is delaying media forwarding.

A task asks to wake every :data:`INTERVAL` and records how much later than asked it woke;
``hoinghi_event_loop_lag_seconds`` (a histogram) and ``hoinghi_event_loop_lag_max_seconds``
(the worst since the previous scrape window) are in /metrics.
"""
from __future__ import annotations

import asyncio
import time

from aiohttp import web

from web.background import run_while_serving
from web.state import STATE

INTERVAL = 0.25  # seconds between probes: a blocked loop shows within one
LAG_TASK = web.AppKey("hoinghi_loop_lag_task", asyncio.Task)


async def _probe(app: web.Application) -> None:
    metrics = app[STATE].metrics
    while True:
        asked = time.monotonic()
        await asyncio.sleep(INTERVAL)
        lag = max(0.0, time.monotonic() - asked - INTERVAL)
        metrics.loop_lag.observe(lag)
        metrics.loop_lag_max.set(max(lag, metrics.loop_lag_max._value.get()))


def setup(app: web.Application) -> None:
    run_while_serving(app, LAG_TASK, "hoinghi-loop-lag", _probe)
