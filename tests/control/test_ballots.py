"""Ballots written in batches (group commit), on SQLite and PostgreSQL, read back from the tables."""
from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, insert, select, text

from meetings import audit, ballots, moderation, voting
from meetings.ballots import Ballot
from meetings.control_models import AuditEntry, VoteCount, VoteOpenChoice, VoteSealedBallot, VoteVoter
from meetings.meetings_service import MeetingError
from meetings.sealed_ballots import BallotKeys, seal
from tests.conftest import RunningServer
from tests.control.conftest import STATE_TABLES, Client, connect_account
from tests.control.helpers import make_world

pytestmark = pytest.mark.control


async def _vote(sessions, secret: bool, keys=None, n_delegates: int = 6):  # type: ignore[no-untyped-def]
    world = await make_world(sessions, n_delegates=n_delegates)
    chair = world.caller(world.chair)
    async with sessions() as s:
        await moderation.open_meeting(s, chair, world.meeting_id)
        vote = await voting.open_vote(s, chair, world.meeting_id, title="Biểu quyết", secret=secret, keys=keys)
        await s.commit()
    return world, vote


async def _write(sessions, vote, batch, head=None):  # type: ignore[no-untyped-def]
    async with sessions() as s:
        result = await ballots.cast_ballots(s, vote, batch, head)
        await s.commit()
    ballots.apply_batch(vote, result.accepted)
    return result


async def _tables(sessions) -> dict[str, list[tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return {t: sorted(tuple(map(str, r)) for r in (await s.execute(text(f"SELECT * FROM {t}"))).all())
                for t in STATE_TABLES}


async def _counters(sessions, vote) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The counts in the database: an open vote's counters, a secret vote's sealed ballots opened with its key."""
    async with sessions() as s:
        if vote.secret:
            return await voting.count_sealed(s, vote.id, vote.key)
        rows = (await s.execute(select(VoteCount.option, VoteCount.count).where(VoteCount.vote_id == vote.id))).all()
    return dict(rows)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", [False, True], ids=["open", "secret"])
async def test_a_duplicate_in_a_batch_fails_alone(db_sessions, ballot_keys, secret: bool) -> None:  # type: ignore[no-untyped-def]
    world, vote = await _vote(db_sessions, secret, ballot_keys)
    d = world.delegates
    # Another writer (a second server process) recorded d[1]'s ballot; this process does not know.
    async with db_sessions() as s:
        stale = await voting.load_open_vote(s, vote.id, ballot_keys)
    assert stale is not None
    await _write(db_sessions, vote, [Ballot(d[1], "", "no")])
    batch = [Ballot(d[0], "", "yes"), Ballot(d[1], "", "yes"), Ballot(d[2], "", "abstain"), Ballot(d[2], "", "no")]
    result = await _write(db_sessions, stale, batch)
    codes = [r.code if r else None for r in result.refusals]
    assert codes == [None, "conflict", None, "conflict"]  # the database refused d[1]; d[2]'s second ballot too
    assert sorted(b.account_id for b in result.accepted) == [d[0], d[2]]
    assert await _counters(db_sessions, vote) == {"yes": 1, "no": 1, "abstain": 1}
    async with db_sessions() as s:
        voters = (await s.execute(select(VoteVoter.account_id).where(VoteVoter.vote_id == vote.id))).scalars().all()
        assert sorted(voters) == sorted([d[0], d[1], d[2]])
        cast = (await s.execute(select(AuditEntry.actor).where(AuditEntry.action == "vote_cast"))).scalars().all()
        assert sorted(cast) == sorted(f"account:{a}" for a in (d[0], d[1], d[2]))  # one entry per counted ballot
        if not secret:
            choices = dict((await s.execute(select(VoteOpenChoice.account_id, VoteOpenChoice.choice))).all())
            assert choices == {d[0]: "yes", d[1]: "no", d[2]: "abstain"}
        assert (await audit.verify_chain(s, world.meeting_id)).ok


async def test_bad_ballots_are_refused_one_by_one_and_change_nothing(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, vote = await _vote(db_sessions, secret=False)
    d = world.delegates
    before = await _tables(db_sessions)
    bad = [Ballot(d[0], "", "maybe"), Ballot(world.observer, "", "yes"), Ballot(world.secretary, "", "no")]
    result = await _write(db_sessions, vote, bad)
    assert [r.code if r else None for r in result.refusals] == ["bad_request", "forbidden", "forbidden"]
    assert result.accepted == [] and result.audit_head is None
    assert await _tables(db_sessions) == before
    mixed = await _write(db_sessions, vote, [bad[0], Ballot(d[3], "", "no"), bad[1]])
    assert [r.code if r else None for r in mixed.refusals] == ["bad_request", None, "forbidden"]
    assert await _counters(db_sessions, vote) == {"yes": 0, "no": 1, "abstain": 0}


async def test_a_closed_vote_refuses_the_whole_batch(db_sessions, ballot_keys) -> None:  # type: ignore[no-untyped-def]
    world, vote = await _vote(db_sessions, True, ballot_keys)
    async with db_sessions() as s:
        await voting.close_vote(s, world.caller(world.chair), world.meeting_id, vote.id, keys=ballot_keys)
        await s.commit()
    before = await _tables(db_sessions)
    async with db_sessions() as s:
        with pytest.raises(MeetingError) as refused:
            await ballots.cast_ballots(s, vote, [Ballot(world.delegates[0], "", "yes")])
        await s.rollback()
    assert refused.value.code == "conflict"
    assert await _tables(db_sessions) == before


async def test_a_stale_audit_head_is_refused_and_the_chain_never_forks(db_sessions, ballot_keys) -> None:  # type: ignore[no-untyped-def]
    world, vote = await _vote(db_sessions, True, ballot_keys)
    d = world.delegates
    first = await _write(db_sessions, vote, [Ballot(d[0], "", "yes")])
    assert first.audit_head is not None
    follow = await _write(db_sessions, vote, [Ballot(d[1], "", "no")], head=first.audit_head)  # the head it knew
    assert follow.audit_head is not None and follow.audit_head.seq == first.audit_head.seq + 1
    async with db_sessions() as s:  # something else is recorded meanwhile
        await moderation.set_lock(s, world.caller(world.chair), world.meeting_id, True)
        await s.commit()
    before = await _tables(db_sessions)
    async with db_sessions() as s:
        with pytest.raises(audit.StaleHead):
            await ballots.cast_ballots(s, vote, [Ballot(d[2], "", "yes")], follow.audit_head)
        await s.rollback()
    assert await _tables(db_sessions) == before
    again = await _write(db_sessions, vote, [Ballot(d[2], "", "yes")])
    assert again.refusals == [None]
    async with db_sessions() as s:
        check = await audit.verify_chain(s, world.meeting_id)
    assert check.ok and again.audit_head == audit.Head(check.entries, check.head)


async def test_secret_batches_leave_nothing_that_links_voter_and_choice(db_sessions, ballot_keys) -> None:  # type: ignore[no-untyped-def]
    world, vote = await _vote(db_sessions, True, ballot_keys, n_delegates=9)
    d = world.delegates
    choices = {a: c for a, c in zip(d, ["no", "yes", "abstain", "yes", "no", "yes", "abstain", "yes", "no"])}
    order = [d[4], d[8], d[0], d[6], d[2], d[7], d[1], d[5], d[3]]  # not the order of ids
    head = None
    for batch in (order[:4], order[4:5], order[5:]):
        result = await _write(db_sessions, vote, [Ballot(a, "", choices[a]) for a in batch], head)
        head = result.audit_head
    async with db_sessions() as s:
        conn = await s.connection()
        voters = (await conn.execute(text(
            "SELECT account_id FROM vote_voter WHERE vote_id = :v ORDER BY rowid" if conn.dialect.name == "sqlite"
            else "SELECT account_id FROM vote_voter WHERE vote_id = :v ORDER BY ctid"), {"v": vote.id})).scalars().all()
        # Physical order: each batch in account order, never in the order ballots arrived.
        assert voters == sorted(order[:4]) + sorted(order[4:5]) + sorted(order[5:])
        entries = (await conn.execute(text(
            "SELECT actor, details FROM audit_log WHERE action = 'vote_cast' ORDER BY seq"))).all()
        assert [json.loads(details) for _, details in entries] == [{"vote_id": vote.id}] * 9
        assert [actor for actor, _ in entries] == [f"account:{a}" for a in voters]
        assert await conn.scalar(select(func.count()).select_from(VoteOpenChoice)) == 0
    assert await _counters(db_sessions, vote) == {"yes": 4, "no": 3, "abstain": 2}


async def test_concurrent_ballots_over_socketio_with_one_recorded_elsewhere(server: RunningServer) -> None:
    """Ballots sent at once are counted; one that another writer already recorded is refused alone."""
    world = await make_world(server.state.sessions, n_delegates=12, at_points=False)
    chair = await connect_account(server, world.chair, role="chair")
    delegates = [await connect_account(server, d) for d in world.delegates]
    clients: list[Client] = [chair, *delegates]
    try:
        for client in clients:
            assert (await client.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
        assert (await chair.call("meeting_open", {}))["ok"]
        vote_id = (await chair.call("vote_open", {"title": "Thông qua", "secret": True}))["vote"]["id"]
        elsewhere = world.delegates[5]
        async with server.state.sessions() as s:  # as a second server process would have written it
            await s.execute(insert(VoteVoter).values(vote_id=vote_id, account_id=elsewhere))
            key = BallotKeys(server.state.settings.data_dir / "ballot-keys").load(vote_id)
            await s.execute(insert(VoteSealedBallot).values(vote_id=vote_id, sealed=seal(key, vote_id, "no")))
            await s.commit()
        acks = await asyncio.gather(*(c.call("vote_cast", {"vote_id": vote_id, "choice": "yes"}) for c in delegates))
        refused = [a for a, d in zip(acks, world.delegates) if d == elsewhere]
        assert [(a["ok"], a["error"], a["detail"]) for a in refused] == [(False, "conflict", ballots.ALREADY_VOTED)]
        assert all(a["ok"] for a, d in zip(acks, world.delegates) if d != elsewhere), acks
        closed = await chair.call("vote_close", {"vote_id": vote_id})
        assert closed["ok"] and (closed["result"]["yes"], closed["result"]["no"]) == (11, 1)
        assert closed["result"]["ballots"] == 12
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
