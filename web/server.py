"""Run the app until SIGINT or SIGTERM, then close connections and the database cleanly."""
from __future__ import annotations

import asyncio
import logging
import resource
import signal
from typing import Callable

from aiohttp import web

from meetings.accounts import create_first_admin
from meetings.config import RoomsConfig
from web.app import create_app
from web.settings import Settings
from web.state import STATE
from web.tls import ensure_self_signed, server_context

log = logging.getLogger("hoinghi.server")
# aiohttp's default backlog (128) overflows when a whole province connects at once.
LISTEN_BACKLOG = 2048


def raise_descriptor_limit() -> int:
    """Raise the soft limit on open descriptors to the hard one and return it: every
    participant costs the SFU sockets (two ICE sockets, their duplicates, a Socket.IO
    connection), and the usual soft limit of 1,024 would end a large meeting long before
    the CPU is busy."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            log.warning("cannot raise the descriptor limit", extra={"soft": soft, "error": str(error)})
    return soft


def _ssl_context(settings: Settings):  # type: ignore[no-untyped-def]
    if not settings.uses_tls:
        return None
    if settings.tls_cert and settings.tls_key:
        return server_context(settings.tls_cert, settings.tls_key)
    cert, key = ensure_self_signed(settings.data_dir / "tls", settings.host)
    log.info("using self-signed certificate", extra={"cert": str(cert)})
    return server_context(cert, key)


async def serve(
    settings: Settings, config: RoomsConfig, announce: Callable[[str, str | None], None]
) -> None:
    """Serve until a signal; announce(url, first admin password or None) once listening."""
    log.info("descriptor limit", extra={"soft_limit": raise_descriptor_limit()})
    app = create_app(settings, config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    async with app[STATE].sessions() as session:
        first_admin_password = await create_first_admin(session)
    try:
        site = web.TCPSite(
            runner, settings.host, settings.port, ssl_context=_ssl_context(settings), backlog=LISTEN_BACKLOG
        )
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        log.info("listening", extra={"url": settings.base_url, "config": str(settings.config_path)})
        announce(settings.base_url, first_admin_password)
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()
