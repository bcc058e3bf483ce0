"""The agent's life: open the room's sources and outputs once, then sessions, forever.

Between two sessions it waits with exponential backoff and jitter (so a thousand points do
not all come back in the same second after a server restart), at most `max_backoff`
seconds: a commune link that comes back must be in the meeting again within seconds.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Coroutine

from bridge.config import AgentConfig
from bridge.http_api import PointMismatch, TokenRefused, current_meeting, http_session, login
from bridge.outputs import Outputs
from bridge.session import Session
from bridge.shutdown import bounded
from bridge.sources import Sources
from bridge.texts import AgentError, say

log = logging.getLogger("hoinghi.bridge")
FIRST_DELAY_S = 0.5
HEALTHY_SESSION_S = 30.0  # a session that lasted this long resets the backoff
NO_MEETING_WAIT_S = 10.0


class Backoff:
    def __init__(self, maximum: float, first: float = FIRST_DELAY_S) -> None:
        self.first, self.maximum, self.attempt = first, maximum, 0

    def next(self) -> float:
        """Doubling from `first` up to `maximum`, each drawn between half and all of it."""
        ceiling = min(self.maximum, self.first * 2**self.attempt)
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


async def run_agent(config: AgentConfig, stop: asyncio.Event) -> None:
    """Run until `stop` is set. AgentError (bad sources or outputs, a token of another point) ends it."""
    sources = Sources(config.video, config.audio)
    sources.open()
    outputs = Outputs(config.audio_out, config.record, config.display)
    try:
        outputs.open()
        await outputs.start()
        backoff = Backoff(config.max_backoff)
        log.info(say("started", point=config.point, server=config.server))
        while not stop.is_set():
            started, delay = time.monotonic(), None
            try:
                if sources.ended:
                    sources.close()
                    sources.open()  # a camera that came back, or an RTSP stream that restarted
                reason = await _until_stopped(_attempt(config, sources, outputs), stop)
            except PointMismatch:
                raise
            except AgentError as error:
                reason = str(error)  # a source that went away: try again later
            except TokenRefused as error:
                reason = str(error)
            except _NoMeeting:
                reason, delay = "", NO_MEETING_WAIT_S
                outputs.status = say("display_no_meeting")
                log.info(say("waiting", point=config.point, seconds=int(delay)))
            except Exception as error:  # the network, the server: anything else is retried
                reason = f"{type(error).__name__}: {error}"
            if stop.is_set():
                break
            if time.monotonic() - started > HEALTHY_SESSION_S:
                backoff.reset()
            if delay is None:
                delay = backoff.next()
                log.warning(say("lost", reason=reason, seconds=delay))
            await _wait(stop, delay)
    finally:
        await bounded(outputs.stop(), "the outputs")
        sources.close()
        log.debug("sources closed")


class _NoMeeting(Exception):
    pass


async def _until_stopped(attempt: Coroutine[Any, Any, str], stop: asyncio.Event) -> str:
    """The attempt's result, or "stopped": a stop cancels it wherever it is (logging in, joining,
    in the meeting), and its session closes within bounded steps (bridge.shutdown)."""
    task = asyncio.create_task(attempt)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.wait({task})  # Session.close() bounds each of its steps
    return "stopped"


async def _attempt(config: AgentConfig, sources: Sources, outputs: Outputs) -> str:
    async with http_session(config) as http:
        await login(http, config)
        meeting = await current_meeting(http, config)
        if meeting is None:
            raise _NoMeeting
        return await Session(config, sources, outputs, http, meeting).run()
