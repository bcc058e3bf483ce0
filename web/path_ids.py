"""Ids in URLs: every table's id is a 32-bit integer, so a longer number names nothing (404)
instead of reaching the database, where PostgreSQL would refuse it as an internal error."""
from __future__ import annotations

from aiohttp import web

MAX_ID = 2**31 - 1  # PostgreSQL's integer, the type of every id column


def parse_id(text: str) -> int | None:
    """A positive id, or None: only ASCII digits (int() would also take "١٢" or " 12_0")."""
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        return None
    return int(text)


def path_id(request: web.Request, name: str) -> int | None:
    """The id in the URL's `name` part, or None (the caller answers 404: nothing has it)."""
    return parse_id(request.match_info[name])


def path_id_or_404(request: web.Request, name: str) -> int:
    value = path_id(request, name)
    if value is None:
        raise web.HTTPNotFound()
    return value
