"""Malformed payloads generated with hypothesis, for every Socket.IO event (web/permissions.py):
refused with a known error in the connection's language, nothing changed in the database or in
the server's memory; unknown event names too.

The server and its clients run on an event loop in a background thread so that hypothesis
can drive them from a plain (synchronous) test.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meetings.config import load_rooms_config
from tests.conftest import RunningServer
from tests.control.conftest import ROLES, Room, make_room
from web.app import create_app
from web.state import STATE
from web.permissions import SOCKET_EVENTS

EVENTS = sorted(SOCKET_EVENTS)

pytestmark = [pytest.mark.control, pytest.mark.security]

FIELDS = ["title", "presenter", "planned_minutes", "item_id", "order", "request_id", "time_limit_s", "topic",
          "on_behalf_of", "vote_id", "choice", "counts", "secret", "threshold", "quorum", "voters", "hand_seats",
          "total_members", "headcount", "target", "peer_id", "locked", "members_total", "console", "sdp", "sources",
          "track_ids", "track_id", "speaker_layer", "audio", "video", "client", "media", "bitrate_in_kbps", "loss_pct",
          "command", "on", "kind", "device_id", "devices", "mic", "camera", "meeting_id", "x", ""]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=True), st.text(max_size=30),
    st.sampled_from(["yes", "no", "abstain", "majority", "two_thirds", "point:xa-ba-che", "account:1", "\x00", "x" * 3000,
                     "\ud800", "a\udfffb", "v=0\r\n", "high", "camera", "screen", "mic", "\u202e", "e\u0301", 2**53 + 1,
                     -(2**63) - 1, 10**30, float("inf")]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=8)
payloads = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=5),
    values,
)
KNOWN_ERRORS = {"bad_request", "forbidden", "conflict", "not_found", "in_lobby", "unknown_event"}
event_names = st.one_of(st.sampled_from(EVENTS), st.text(max_size=20), st.sampled_from(["connect", "disconnect", "message"]))


class Harness:
    def __init__(self, settings_) -> None:  # type: ignore[no-untyped-def]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.settings = settings_

    def run(self, coro, timeout: float = 60) -> Any:  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> Room:
        app = create_app(self.settings, load_rooms_config(self.settings.config_path))
        # this suite checks handlers, so its fast sequential calls must not be rate limited
        app[STATE].sio.event_rate = app[STATE].sio.event_burst = 100_000
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.settings.port).start()
        server = RunningServer(url=self.settings.base_url, app=app)
        room = await make_room(server)
        # Some state to refer to: an open meeting, an item, a queued request, an open vote.
        await room.call("chair", "meeting_open")
        await room.call("secretary", "agenda_add", {"title": "Mục 1"})
        await room.call("delegate", "speak_request", {})
        await room.call("chair", "vote_open", {"title": "Biểu quyết", "hand_seats": {"xa-ba-che": 3}})
        return room

    async def stop(self, room: Room) -> None:
        await room.close()
        await self.runner.cleanup()

    def close(self) -> None:
        async def cancel_rest() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        self.run(cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def harness(settings) -> Iterator[tuple[Harness, Room]]:  # type: ignore[no-untyped-def]
    h = Harness(settings)
    room = h.run(h.start())
    try:
        yield h, room
    finally:
        h.run(h.stop(room))
        h.close()


def test_malformed_payloads_are_refused_and_change_nothing(harness) -> None:  # type: ignore[no-untyped-def]
    h, room = harness

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(event=event_names, who=st.sampled_from(ROLES), payload=payloads)
    def check(event: str, who: str, payload: Any) -> None:
        before, memory = h.run(room.fingerprint()), room.memory()
        ack = h.run(room.call(who, event, payload))
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        if ack["ok"]:
            h.run(room.rejoin())  # (a valid leave_meeting or media:leave: the next example starts as this one)
            return
        assert ack["error"] in KNOWN_ERRORS, (event, who, payload, ack)
        assert isinstance(ack["message"], str) and ack["message"] and isinstance(ack["detail"], str), ack
        assert h.run(room.fingerprint()) == before, (event, who, payload, ack)
        assert room.memory() == memory, (event, who, payload, ack)

    check()


def test_type_confusion_on_every_field(harness) -> None:  # type: ignore[no-untyped-def]
    """Each event, each known field, each wrong type: a known error, never internal_error."""
    h, room = harness
    wrong = [None, True, 1.5, "1", [1], {"a": 1}, -1, 2**40]

    async def sweep() -> list[tuple[str, str, Any, Any]]:
        oks = []
        for event in EVENTS:
            for field in FIELDS[:-2]:
                for value in wrong:
                    ack = await room.call("chair", event, {field: value})
                    if ack["ok"]:
                        oks.append((event, field, value, ack))
                    else:
                        assert ack["error"] in KNOWN_ERRORS, (event, field, value, ack)
        return oks

    oks = h.run(sweep(), timeout=600)
    # Only a few single-field payloads are valid as they stand, and only these change state.
    assert {(e, f) for e, f, _, _ in oks} <= {("control_state", f) for f in FIELDS} | {
        ("agenda_add", "title"), ("meeting_configure", "members_total"), ("meeting_lock", "locked"), ("agenda_set_current", "item_id"),
        ("speak_end", "request_id"), ("headcount_report", "headcount")}, oks
