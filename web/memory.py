"""Give the memory the process has freed back to the system, every few minutes, off the loop.

glibc's malloc keeps freed memory inside its heaps for reuse. With peers coming and going
(bench/soak.py: 20 peers for 30 minutes) that free memory grew by ~26 MB while the Python
objects of an empty meeting stayed the same, so resident memory climbed although nothing
leaked. ``malloc_trim(0)`` hands the free pages back. ctypes releases the GIL around the call
and it runs in an executor thread, so the loop that forwards media never waits for it. On a
C library without malloc_trim (musl, say) this does nothing.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable

from aiohttp import web

from web.background import run_while_serving

TRIM_EVERY_S = 300.0
TRIM_TASK = web.AppKey("hoinghi_memory_trim_task", asyncio.Task)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


MALLOC_TRIM = _malloc_trim()


async def release_free_memory() -> bool:
    """Return malloc's free pages to the system now; False where the C library cannot."""
    if MALLOC_TRIM is None:
        return False
    await asyncio.get_running_loop().run_in_executor(None, MALLOC_TRIM, 0)
    return True


async def _trim_forever(_app: web.Application) -> None:
    while await release_free_memory():
        await asyncio.sleep(TRIM_EVERY_S)


def setup(app: web.Application) -> None:
    run_while_serving(app, TRIM_TASK, "hoinghi-memory-trim", _trim_forever)
