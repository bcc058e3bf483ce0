"""Prompt shutdown: every closing step is bounded, and a watchdog ends a process that still hangs.

A cut link makes closing slow in many places (a WebSocket close handshake, a DTLS alert, a
device or RTSP read that blocks its thread until its own timeout). systemd and an operator
pressing Ctrl+C both expect the agent gone within seconds, so each step gets a few seconds at
most, and if the whole still has not finished SHUTDOWN_LIMIT_S after the signal, the process
exits anyway, saying which threads were stuck.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import Awaitable

log = logging.getLogger("hoinghi.bridge.shutdown")
STEP_LIMIT_S = 2.0  # one closing step: peer connections, Socket.IO, a recorder
SHUTDOWN_LIMIT_S = 8.0  # from the signal to the end of the process, whatever hangs


async def bounded(step: Awaitable[object], what: str, seconds: float = STEP_LIMIT_S) -> None:
    """Await a closing step for at most `seconds`; a step that fails or hangs is logged and left."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(step, seconds)
        log.debug("closed %s in %.2f s", what, time.monotonic() - started)
    except asyncio.TimeoutError:
        log.warning("closing %s took more than %.0f s: left", what, seconds)
    except Exception:
        log.warning("closing %s failed", what, exc_info=True)


def start_watchdog(exit_code: int = 0, seconds: float = SHUTDOWN_LIMIT_S) -> threading.Timer:
    """After `seconds`, end the process (a daemon timer: it does not itself keep the process alive)."""

    def force() -> None:
        stuck = sorted(t.name for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon)
        log.error("shutdown still not finished after %.0f s (threads: %s): exiting", seconds, ", ".join(stuck) or "-")
        sys.stderr.flush()
        os._exit(exit_code)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()
    return timer
