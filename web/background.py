"""Work that runs for as long as the server does: started at start-up, cancelled at shutdown."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web


def run_while_serving(app: web.Application, key: web.AppKey[asyncio.Task[None]], name: str,
                      work: Callable[[web.Application], Awaitable[None]]) -> None:
    """Run ``work(app)`` as the task ``name``, kept at ``app[key]``, from start-up on."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        app[key] = task = asyncio.create_task(work(app), name=name)  # type: ignore[arg-type]
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(lifetime)
