"""kill -9 of a real `hoinghi serve` while 200 clients cast secret ballots: after the restart
every acknowledged ballot is there exactly once, the meeting and its vote carry on, and the
clients (python-socketio, reconnecting by themselves) rejoin and finish on their own.

A client retries a ballot whose ack never came (the connection died under it); if the ballot
had been committed, the retry is refused as a second ballot, so nothing is counted twice.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlalchemy import func, select

from meetings.accounts import Principal, open_session
from meetings.ballots import ALREADY_VOTED
from meetings.control_models import VoteVoter
from meetings.db import create_engine, session_factory
from meetings.models import Participant
from tests.control.helpers import make_accounts
from tests.e2e.harness import Deployment
from web.auth import SESSION_COOKIE

pytestmark = [pytest.mark.security, pytest.mark.slow, pytest.mark.timeout(300)]

VOTERS = 200
KILL_AFTER = 50  # acknowledged ballots before the kill; the others are on their way or not sent yet
CHOICES = ("yes", "no", "abstain")


async def _seed(deployment: Deployment) -> tuple[str, list[tuple[int, str]]]:
    """200 delegates invited to the deployment's meeting, and a login of each (and the chair's)."""
    engine = create_engine(deployment.database_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            ids = await make_accounts(session, [(f"daibieu{i:03}", "delegate", f"Đại biểu {i:03}") for i in range(VOTERS)])
            session.add_all(Participant(meeting_id=deployment.meeting_id, account_id=a) for a in ids)
            await session.commit()
            chair = deployment.people[0]
            chair_cookie = await open_session(session, Principal("account", str(chair.id), chair.name, "chair"))
            cookies = [(a, await open_session(session, Principal("account", str(a), f"Đại biểu {a}", "delegate")))
                       for a in ids]
        return chair_cookie, cookies
    finally:
        await engine.dispose()


class Member:
    """A python-socketio client that reconnects by itself and rejoins the meeting after each connection.

    Its own reconnect loop, as the browser's Socket.IO client behaves (backoff with jitter, 20 s
    for a handshake): python-socketio's built-in one gives each handshake 1 s, which 200 clients
    reconnecting at once to a busy, just restarted server never get, so they retried forever.
    """

    def __init__(self, url: str, cookie: str, meeting_id: int) -> None:
        self.url, self.cookie, self.meeting_id = url, cookie, meeting_id
        self.sio = socketio.AsyncClient(reconnection=False)
        self.leaving = False
        self.joined = asyncio.Event()
        self.lost = asyncio.Event()
        self.joins = 0
        self.problems: list[str] = []  # what went wrong on the way (shown when the test fails)
        self.sio.on("connect", self._connected)
        self.sio.on("disconnect", self._disconnected)

    async def connect(self) -> None:
        await self.sio.connect(self.url, headers={"Cookie": f"{SESSION_COOKIE}={self.cookie}"},
                               transports=["websocket"], wait_timeout=20)

    async def _connected(self) -> None:
        self.lost.clear()
        asyncio.get_running_loop().create_task(self._join())

    async def _disconnected(self, *_: Any) -> None:
        self.joined.clear()
        self.lost.set()
        if not self.leaving:
            asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.3
        while not self.leaving and not self.sio.connected:
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 2.0)
            try:
                await self.connect()
            except (socketio.exceptions.ConnectionError, ValueError) as error:
                self.problems.append(repr(error))

    async def leave(self) -> None:
        self.leaving = True
        await self.sio.disconnect()

    async def _join(self) -> None:
        while not self.lost.is_set():
            try:
                ack = await self.sio.call("join_meeting", {"meeting_id": self.meeting_id}, timeout=20)
            except Exception as error:  # lost again (the next connection joins), or no answer in time
                self.problems.append(repr(error))
                continue
            if ack.get("ok"):
                self.joins += 1
                self.joined.set()
                return
            self.problems.append(str(ack))
            await asyncio.sleep(0.5)

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The ack, or None when the connection died first (then the caller waits for the rejoin)."""
        await self.joined.wait()
        call = asyncio.ensure_future(self.sio.call(event, payload, timeout=30))
        lost = asyncio.ensure_future(self.lost.wait())
        done, _ = await asyncio.wait({call, lost}, return_when=asyncio.FIRST_COMPLETED)
        lost.cancel()
        if call not in done:
            call.cancel()
            return None
        try:
            return call.result()
        except Exception:
            return None


async def _cast(member: Member, vote_id: int, choice: str, acked: list[int], account: int) -> str:
    """Cast until the server answers: 'acked' (committed now) or 'already' (committed before the crash)."""
    while True:
        ack = await member.call("vote_cast", {"vote_id": vote_id, "choice": choice})
        if ack is None:
            continue  # no answer: the server went away; retry once rejoined
        if ack["ok"]:
            acked.append(account)
            return "acked"
        if ack["error"] == "conflict" and ack["detail"] == ALREADY_VOTED:
            return "already"
        if ack["error"] in ("not_joined", "conflict"):  # rejoining, or the vote not yet rebuilt
            await asyncio.sleep(0.2)
            continue
        raise AssertionError(ack)


async def _scenario(deployment: Deployment, chair_cookie: str, cookies: list[tuple[int, str]]) -> None:
    chair = Member(deployment.url, chair_cookie, deployment.meeting_id)
    members = {a: Member(deployment.url, c, deployment.meeting_id) for a, c in cookies}
    everyone = [chair, *members.values()]
    try:
        for start in range(0, len(everyone), 25):  # connect in waves: a province does not all log in at once
            await asyncio.gather(*(m.connect() for m in everyone[start:start + 25]))
        await asyncio.gather(*(m.joined.wait() for m in everyone))
        assert (await chair.call("meeting_open", {}))["ok"]
        opened = await chair.call("vote_open", {"title": "Thông qua nghị quyết (bỏ phiếu kín)", "secret": True})
        assert opened and opened["ok"], opened
        vote_id = opened["vote"]["id"]
        rng = random.Random(14)
        choice = {a: rng.choice(CHOICES) for a in members}
        acked: list[int] = []

        async def voter(account: int) -> str:
            await asyncio.sleep(rng.random() * 2.0)  # ballots keep arriving for two seconds
            return await _cast(members[account], vote_id, choice[account], acked, account)

        casting = asyncio.gather(*(voter(a) for a in members))
        while len(acked) < KILL_AFTER:
            await asyncio.sleep(0.01)
        assert deployment.process is not None
        deployment.process.kill()  # SIGKILL: no shutdown handler runs
        deployment.process.wait(timeout=10)
        acked_before = list(acked)
        deployment.process = None
        killed_at = time.monotonic()
        deployment.start("server-after-kill.log")
        try:
            outcomes = await asyncio.wait_for(casting, timeout=60)
        except TimeoutError:
            stuck = [(a, m.sio.connected, m.joins, m.problems[-3:]) for a, m in members.items() if not m.joined.is_set()]
            raise AssertionError(f"{len(stuck)} clients did not finish: {stuck[:5]}") from None
        print(f"restart and rejoin took {time.monotonic() - killed_at:.1f} s; "
              f"{len(acked_before)} acked before the kill, outcomes {Counter(outcomes)}")
        deadline = time.monotonic() + 30  # those whose ballot was in before the kill rejoin too
        while any(m.joins < 2 for m in everyone) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert [m.problems[-3:] for m in everyone if m.joins < 2] == [], "a client did not rejoin by itself"
        print(f"everyone rejoined {time.monotonic() - killed_at:.1f} s after the kill")

        engine = create_engine(deployment.database_url)
        try:
            async with session_factory(engine)() as session:
                rows = (await session.execute(select(VoteVoter.account_id).where(VoteVoter.vote_id == vote_id))).scalars().all()
                assert await session.scalar(select(func.count()).select_from(VoteVoter)) == VOTERS
        finally:
            await engine.dispose()
        assert sorted(rows) == sorted(members)  # every acknowledged ballot (and every retried one) once
        assert set(acked_before) <= set(rows)
        closed = await chair.call("vote_close", {"vote_id": vote_id})  # the meeting carries on
        assert closed and closed["ok"], closed
        result = closed["result"]
        expected = Counter(choice.values())
        assert (result["yes"], result["no"], result["abstain"]) == (expected["yes"], expected["no"], expected["abstain"])
        assert result["ballots"] == VOTERS
    finally:
        await asyncio.gather(*(m.leave() for m in everyone), return_exceptions=True)


def test_kill_9_while_200_clients_cast_loses_and_doubles_no_ballot(database_url: str, tmp_path: Path) -> None:
    deployment = Deployment(root=tmp_path / "hoinghi", db_url=database_url)
    deployment.prepare()
    chair_cookie, cookies = asyncio.run(_seed(deployment))
    deployment.start()
    try:
        asyncio.run(_scenario(deployment, chair_cookie, cookies))
    finally:
        deployment.stop()
