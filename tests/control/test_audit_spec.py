"""The audit chain recomputed by a client that knows only docs/protocol.md ("Audit log").

Real changes over Socket.IO (Vietnamese text, quotes, backslashes, emoji, a secret vote), the
log read over HTTP, and every hash recomputed with the documented serialisation — nothing of
meetings/audit.py is imported. Then one entry altered as a tamperer would: the recomputation
sees the break where it is.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
import pytest

from tests.control.conftest import POINT, Room, cookie_for
from web.auth import SESSION_COOKIE

pytestmark = [pytest.mark.control, pytest.mark.security]
GENESIS = "0" * 64


def documented_hash(prev_hash: str, meeting_id: int, entry: dict[str, Any]) -> str:
    """docs/protocol.md: SHA-256 of the UTF-8 JSON array, no spaces, non-ASCII as itself;
    `details` as the string of the details object serialised the same way, keys sorted."""
    details = json.dumps(entry["details"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    array = [prev_hash, meeting_id, entry["seq"], entry["at"], entry["actor"], entry["actor_name"], entry["action"], details]
    return hashlib.sha256(json.dumps(array, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


def first_break(meeting_id: int, entries: list[dict[str, Any]]) -> int | None:
    prev = GENESIS
    for entry in entries:
        if documented_hash(prev, meeting_id, entry) != entry["hash"]:
            return entry["seq"]
        prev = entry["hash"]
    return None


async def _log(room: Room) -> dict[str, Any]:
    cookie = await cookie_for(room.server, room.account("chair"), "chair", "chair")
    async with aiohttp.ClientSession(cookies={SESSION_COOKIE: cookie}) as http:
        async with http.get(f"{room.server.url}/api/meetings/{room.meeting_id}/audit?after=0") as response:
            assert response.status == 200
            return await response.json()


async def _ok(room: Room, who: str, event: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    ack = await room.call(who, event, payload or {})
    assert ack["ok"], (event, ack)
    return ack


async def test_a_client_recomputes_the_chain_from_the_documentation(room: Room) -> None:
    await _ok(room, "chair", "meeting_open")
    item = (await _ok(room, "secretary", "agenda_add", {
        "title": 'Báo cáo "tình hình" kinh tế – xã hội \\ quý IV 🇻🇳', "presenter": "Sở Kế hoạch và Đầu tư",
        "planned_minutes": 20}))["item_id"]
    await _ok(room, "chair", "agenda_set_current", {"item_id": item})
    request = (await _ok(room, "delegate", "speak_request", {"topic": "Ý kiến về chỉ tiêu tăng trưởng"}))["request_id"]
    await _ok(room, "chair", "speak_grant", {"request_id": request, "time_limit_s": 120})
    await _ok(room, "chair", "speak_end", {"request_id": request})
    vote = (await _ok(room, "chair", "vote_open", {"title": "Thông qua báo cáo", "secret": True,
                                                   "hand_seats": {POINT: 3}}))["vote"]["id"]
    await _ok(room, "delegate", "vote_cast", {"vote_id": vote, "choice": "yes"})
    await _ok(room, "point", "vote_hands", {"vote_id": vote, "counts": {"yes": 2, "no": 1, "abstain": 0}})
    await _ok(room, "chair", "vote_close", {"vote_id": vote})

    log = await _log(room)
    entries = log["entries"]
    assert log["verified"] is True and len(entries) >= 10
    assert {"meeting_open", "agenda_add", "vote_open", "vote_close"} <= {e["action"] for e in entries}
    assert any("🇻🇳" in json.dumps(e["details"], ensure_ascii=False) for e in entries)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert first_break(room.meeting_id, entries) is None
    assert log["head"] == entries[-1]["hash"]

    # a tamperer changes what the item was called: the recomputation stops at that entry
    changed = [dict(e) for e in entries]
    index = next(i for i, e in enumerate(changed) if e["action"] == "agenda_add")
    changed[index]["details"] = {**changed[index]["details"], "title": "Báo cáo khác"}
    assert first_break(room.meeting_id, changed) == changed[index]["seq"]
