"""The agent's HTTP calls: log in with the point's token, find the point's current meeting."""
from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from bridge.config import AgentConfig
from bridge.texts import AgentError, say

CONNECT_TIMEOUT_S = 2.0  # a cut link must fail fast: the agent retries on its own schedule
REQUEST_TIMEOUT_S = 8.0


class PointMismatch(AgentError):
    """The token is another point's: a configuration mistake, the agent stops."""


class TokenRefused(Exception):
    """The server refuses the token: wait and retry (it may be re-issued), but say so."""


def http_session(config: AgentConfig) -> aiohttp.ClientSession:
    """A session that keeps the login cookie (also for an IP address) and trusts --ca-file if given."""
    context = ssl.create_default_context(cafile=str(config.ca_file)) if config.ca_file else None
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(ssl=context if context is not None else True),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S, sock_connect=CONNECT_TIMEOUT_S),
    )


async def login(http: aiohttp.ClientSession, config: AgentConfig) -> None:
    async with http.post(f"{config.server}/point/login", json={"token": config.token}) as response:
        if response.status == 401:
            raise TokenRefused(say("token_refused"))
        response.raise_for_status()
        body = await response.json()
    if body.get("point") != config.point:
        raise PointMismatch("input_error", "--point", say("point_mismatch", actual=body.get("point"), expected=config.point))


async def current_meeting(http: aiohttp.ClientSession, config: AgentConfig) -> dict[str, Any] | None:
    """The meeting the point should be in now (docs/protocol.md, `GET /api/point/meeting`)."""
    async with http.get(f"{config.server}/api/point/meeting") as response:
        if response.status in (401, 403):
            raise TokenRefused(say("token_refused"))
        response.raise_for_status()
        return (await response.json())["meeting"]
