"""Ordering and restart (issue 14): broadcasts stamped with the audit `seq` end every screen on the
last change; a speaking turn's time limit outlives a restart; a leave is never committed after
the rejoin that followed it; a meeting nobody is in keeps nothing in memory."""
from __future__ import annotations

import asyncio
import gc
import json
import time
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select

from meetings.control_models import AuditEntry
from meetings.models import Participant
from tests.conftest import RunningServer, serving_in_process
from tests.control.conftest import Client, connect_account
from tests.control.helpers import make_accounts, make_world
from web.control import HUB
from web.settings import Settings

pytestmark = [pytest.mark.control, pytest.mark.security]


def newest(received: list[tuple[str, Any]], event: str) -> dict[str, Any]:
    """What a client that drops overtaken broadcasts shows: the one with the highest seq, the later of equals."""
    shown: dict[str, Any] | None = None
    for name, data in received:
        if name == event and (shown is None or data["seq"] >= shown["seq"]):
            shown = data
    assert shown is not None, f"no {event} received"
    return shown


async def _joined(server: RunningServer, world, *accounts: int) -> list[Client]:  # type: ignore[no-untyped-def]
    clients = [await connect_account(server, a, world.names[a]) for a in accounts]
    for client in clients:
        assert (await client.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
    return clients


async def test_quick_concurrent_changes_leave_every_screen_on_the_last(server: RunningServer) -> None:
    world = await make_world(server.state.sessions, n_delegates=4, at_points=False)
    chair, secretary, *watchers = await _joined(server, world, world.chair, world.secretary, *world.delegates)
    try:
        assert (await chair.call("meeting_open", {}))["ok"]
        item = (await chair.call("agenda_add", {"title": "Mục 0"}))["item_id"]
        requests = [await w.call("speak_request", {"topic": f"Ý kiến {i}"}) for i, w in enumerate(watchers)]
        assert all(r["ok"] for r in requests)
        # renames from two people at once (as many as a connection may have under way: 4), and
        # speaking-queue changes between them
        def renames(first: int) -> list[Any]:
            return [(chair if i % 3 == 0 else secretary).call("agenda_update", {"item_id": item, "title": f"Mục {i}"})
                    for i in range(first, first + 6)]

        queue = [chair.call("speak_deny", {"request_id": requests[0]["request_id"]}),
                 chair.call("speak_grant", {"request_id": requests[1]["request_id"], "time_limit_s": 600}),
                 watchers[2].call("speak_withdraw", {"request_id": requests[2]["request_id"]})]
        acks = await asyncio.gather(*renames(1), *queue)
        for first in (7, 13, 19):
            acks += await asyncio.gather(*renames(first))
        assert [a for a in acks if not a["ok"]] == []
        final = await watchers[0].call("control_state", {})
        for client in (chair, secretary, *watchers):
            await client.wait_for("agenda", lambda d: d["seq"] >= final["seq"])  # the last change's broadcast
            assert newest(client.received, "agenda")["items"] == final["agenda"]["items"]
            speakers = newest(client.received, "speakers")  # its last change came earlier
            assert (speakers["floor"], speakers["queue"]) == (final["speakers"]["floor"], final["speakers"]["queue"])
            by_seq: dict[int, Any] = {}
            for name, data in client.received:  # one seq, one state: a stamp never lies about its content
                if name == "agenda":
                    assert by_seq.setdefault(data["seq"], data["items"]) == data["items"]
        assert final["speakers"]["floor"]["id"] == requests[1]["request_id"]
    finally:
        await asyncio.gather(*(c.disconnect() for c in (chair, secretary, *watchers)), return_exceptions=True)


async def test_a_speaking_turn_ends_on_time_after_a_restart(settings: Settings) -> None:
    async with serving_in_process(settings) as first:
        world = await make_world(first.state.sessions, n_delegates=2, at_points=False)
        chair, speaker = await _joined(first, world, world.chair, world.delegates[0])
        assert (await chair.call("meeting_open", {}))["ok"]
        request = (await speaker.call("speak_request", {}))["request_id"]
        granted = await chair.call("speak_grant", {"request_id": request, "time_limit_s": 3})
        assert granted["ok"]
        await asyncio.gather(chair.disconnect(), speaker.disconnect())
    # the process is gone, and its timer with it; a new one starts on the same database
    async with serving_in_process(settings) as second:
        assert second.app[HUB].timers, "the turn's time limit was not re-armed"
        watcher = (await _joined(second, world, world.delegates[1]))[0]
        try:
            state = await watcher.call("control_state", {})
            if state["speakers"]["floor"] is not None:  # still speaking: wait for the limit
                ended = await watcher.wait_for("speakers", lambda d: d["floor"] is None, timeout=15)
                assert ended["seq"] > state["seq"]
            assert time.time() * 1000 >= granted["deadline_ms"] - 50  # not before its time
            async with second.state.sessions() as session:
                ends = (await session.execute(select(AuditEntry.actor, AuditEntry.details).where(
                    AuditEntry.meeting_id == world.meeting_id, AuditEntry.action == "speak_end"))).all()
            assert [(actor, json.loads(details)["reason"]) for actor, details in ends] == [("system", "time_limit")]
        finally:
            await watcher.disconnect()


async def test_a_slow_leave_is_never_committed_after_the_rejoin(server: RunningServer) -> None:
    world = await make_world(server.state.sessions, n_delegates=1, at_points=False)
    delegate = world.delegates[0]
    release = asyncio.Event()
    slow: list[asyncio.Task[Any]] = []

    async def slow_hook(meeting_id: int, sid: str) -> None:  # a leave hook that takes its time (media, say)
        if not slow:
            slow.append(asyncio.current_task())  # type: ignore[arg-type]
            await release.wait()

    server.state.leave_hooks.insert(0, slow_hook)
    (first,) = await _joined(server, world, delegate)
    await first.disconnect()  # the leave starts and hangs in the hook
    while not slow:
        await asyncio.sleep(0.01)
    (again,) = await _joined(server, world, delegate)  # the rejoin commits "present"
    try:
        release.set()
        await slow[0]  # the old connection's leave finishes now, after the rejoin
        async with server.state.sessions() as session:
            present = await session.scalar(select(Participant.present).where(
                Participant.meeting_id == world.meeting_id, Participant.account_id == delegate))
        assert present is True
        assert len(server.state.presence) == 0
    finally:
        await again.disconnect()


async def test_a_client_that_hangs_up_during_its_join_is_not_seated(server: RunningServer) -> None:
    """Seen in the soak: a delegate who disconnected while the server looked up her join was
    seated anyway (a ghost in the roster and "present" in the database), and entering the
    Socket.IO room then raised KeyError, an internal error."""
    world = await make_world(server.state.sessions, n_delegates=1, at_points=False)
    delegate = world.delegates[0]
    client = await connect_account(server, delegate, world.names[delegate])
    sid = client.get_sid()
    real_sessions, looking_up, answer = server.state.sessions, asyncio.Event(), asyncio.Event()

    @asynccontextmanager
    async def slow_database():  # type: ignore[no-untyped-def]
        looking_up.set()
        await answer.wait()
        async with real_sessions() as session:
            yield session

    server.state.sessions = slow_database  # type: ignore[assignment]
    try:
        join = asyncio.ensure_future(server.state.sio.handlers["/"]["join_meeting"](sid, {"meeting_id": world.meeting_id}))
        await looking_up.wait()
    finally:
        server.state.sessions = real_sessions
    await client.disconnect()
    while server.state.sio.manager.is_connected(sid, "/"):
        await asyncio.sleep(0.01)
    answer.set()
    assert (await join)["error"] == "conflict"
    assert server.state.roster.entry(sid) is None and server.state.roster.entries(world.meeting_id) == []
    async with server.state.sessions() as session:
        present = await session.scalar(select(Participant.present).where(
            Participant.meeting_id == world.meeting_id, Participant.account_id == delegate))
    assert not present


async def test_a_meeting_nobody_is_in_keeps_nothing_in_memory(server: RunningServer) -> None:
    world = await make_world(server.state.sessions, n_delegates=2, at_points=False)
    hub = server.app[HUB]
    clients = await _joined(server, world, world.chair, *world.delegates)
    chair = clients[0]
    async with server.state.sessions() as session:
        (uninvited,) = await make_accounts(session, [("khachmoi", "delegate", "Khách Mời Chờ")])
    guest = await connect_account(server, uninvited)
    m = world.meeting_id
    try:
        assert (await chair.call("meeting_open", {}))["ok"]
        assert (await guest.call("join_meeting", {"meeting_id": m}))["error"] == "in_lobby"
        vote = (await chair.call("vote_open", {"title": "Thông qua", "secret": True}))["vote"]
        assert (await clients[1].call("vote_cast", {"vote_id": vote["id"], "choice": "yes"}))["ok"]
        assert (await chair.call("vote_close", {"vote_id": vote["id"]}))["ok"]
        await clients[1].wait_for("attendance")
        assert m in hub._attendance and m in server.state.lobby  # (what the meeting held while in use)
    finally:
        await asyncio.gather(*(c.disconnect() for c in (*clients, guest)), return_exceptions=True)

    def held() -> list[str]:
        gc.collect()  # a closed vote's box is a reference cycle (its tally broadcaster calls back into it)
        registries = {"roster": server.state.roster._meetings, "locks": hub.locks, "votes": hub.votes,
                      "timers": hub.timers, "attendance": hub._attendance, "lobby": server.state.lobby,
                      "roster feed": server.state.roster_feed._senders}
        return [name for name, registry in registries.items() if m in registry] + (["presence"] if len(server.state.presence) else [])

    deadline = time.monotonic() + 10
    while held() and time.monotonic() < deadline:  # the disconnects' leaves finish on the server
        await asyncio.sleep(0.05)
    assert held() == []
