"""200 concurrent python-socketio clients vote: every ballot is counted exactly once."""
from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from meetings.accounts import Principal, open_session
from meetings.control_models import VoteCount, VoteVoter
from meetings.meetings_service import create_meeting
from tests.conftest import RunningServer
from tests.control.conftest import Client
from tests.control.helpers import make_accounts
from web.auth import SESSION_COOKIE

pytestmark = [pytest.mark.control, pytest.mark.slow]
N = 200


@pytest.mark.parametrize("secret", [False, True], ids=["open", "secret"])
async def test_200_clients_vote_each_ballot_counted_once(server: RunningServer, secret: bool) -> None:
    async with server.state.sessions() as session:
        chair, secretary, *delegates = await make_accounts(
            session, [("chutoa", "chair", "Chủ tọa"), ("thuky", "secretary", "Thư ký")]
            + [(f"db{i}", "delegate", f"Đại biểu {i}") for i in range(N)]
        )
        meeting_id = await create_meeting(
            session, room_id="phong-hop-ubnd", title="Kỳ họp", scheduled_start=datetime(2026, 11, 21, tzinfo=timezone.utc),
            chair_id=chair, secretary_id=secretary, delegates=[(d, None) for d in delegates],
        )
        cookies = {a: await open_session(session, Principal("account", str(a), f"n{a}", "delegate")) for a in [chair, *delegates]}

    async def connect(account_id: int) -> Client:
        client = Client()
        await client.connect(server.url, headers={"Cookie": f"{SESSION_COOKIE}={cookies[account_id]}"},
                             transports=["websocket"], wait_timeout=30)
        ack = await client.call("join_meeting", {"meeting_id": meeting_id}, timeout=60)
        assert ack["ok"], ack
        return client

    chair_client = await connect(chair)
    clients: list[Client] = []
    for start in range(0, N, 50):
        clients += await asyncio.gather(*(connect(d) for d in delegates[start:start + 50]))
    try:
        assert (await chair_client.call("meeting_open", {}))["ok"]
        opened = await chair_client.call("vote_open", {"title": "Thông qua nghị quyết", "secret": secret})
        vote_id = opened["vote"]["id"]
        rng = random.Random(5)
        choices = [rng.choice(["yes", "no", "abstain"]) for _ in clients]

        async def cast(client: Client, choice: str) -> list[dict]:
            # Each client sends its ballot twice at once (a double click): exactly one is counted.
            return list(await asyncio.gather(
                client.call("vote_cast", {"vote_id": vote_id, "choice": choice}, timeout=60),
                client.call("vote_cast", {"vote_id": vote_id, "choice": "no"}, timeout=60),
            ))

        acks = await asyncio.gather(*(cast(c, ch) for c, ch in zip(clients, choices)))
        for pair in acks:
            assert sorted(a["ok"] for a in pair) == [False, True], pair
            assert next(a for a in pair if not a["ok"])["error"] == "conflict"
        # Every client ends up holding a tally that includes every ballot.
        for client in clients:
            await client.wait_for("vote_tally", lambda d: d["vote_id"] == vote_id and d["ballots"] == N, timeout=30)
        closed = await chair_client.call("vote_close", {"vote_id": vote_id}, timeout=60)
        assert closed["ok"], closed
        result = closed["result"]
        # Which of the two concurrent ballots won is a race; the count is exact.
        assert result["yes"] + result["no"] + result["abstain"] == N and result["ballots"] == N
        assert result["yes"] <= choices.count("yes") and result["abstain"] <= choices.count("abstain")
        async with server.state.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(VoteVoter).where(VoteVoter.vote_id == vote_id)) == N
            total = await session.scalar(select(func.sum(VoteCount.count)).where(VoteCount.vote_id == vote_id))
            assert total == N
        if not secret:
            assert sum(len(v) for v in result["names"].values()) == N
    finally:
        await asyncio.gather(*(c.disconnect() for c in [chair_client, *clients]), return_exceptions=True)
