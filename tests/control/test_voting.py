"""Votes against the database (SQLite and PostgreSQL): ballots, hands, results, secrecy."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, select, text

from meetings import ballots, moderation, voting
from meetings.control_models import Vote, VoteCount, VoteOpenChoice, VoteSealedBallot, VoteVoter
from meetings.meetings_service import MeetingError
from meetings.ballots import Ballot
from tests.control.helpers import make_world

pytestmark = pytest.mark.control


async def _opened(sessions, **kw):  # type: ignore[no-untyped-def]
    world = await make_world(sessions, **kw)
    async with sessions() as s:
        await moderation.open_meeting(s, world.caller(world.chair), world.meeting_id)
        await s.commit()
    return world


async def _cast(sessions, vote, batch):  # type: ignore[no-untyped-def]
    async with sessions() as s:
        result = await ballots.cast_ballots(s, vote, batch)
        await s.commit()
    ballots.apply_batch(vote, result.accepted)
    return result.accepted


async def test_open_vote_ballots_and_result_with_names(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await _opened(db_sessions)
    chair = world.caller(world.chair)
    async with db_sessions() as s:
        vote = await voting.open_vote(s, chair, world.meeting_id, title="Thông qua nghị quyết")
        await s.commit()
    # Members: chair + 6 delegates = 7; more than half = 4.
    assert vote.total_members == 7 and len(vote.eligible) == 7
    choices = ["yes", "yes", "yes", "no", "abstain", "yes"]
    cast = [Ballot(d, world.names[d], c) for d, c in zip(world.delegates, choices)]
    assert len(await _cast(db_sessions, vote, cast[:3])) == 3
    # A second ballot by the same voter, in the same batch or later, is not counted.
    assert len(await _cast(db_sessions, vote, cast[3:] + [Ballot(world.delegates[0], "x", "no")])) == 3
    with pytest.raises(MeetingError) as refused:
        ballots.check_ballot(vote, world.caller(world.delegates[0]), "no")
    assert refused.value.code == "conflict"
    with pytest.raises(MeetingError) as refused:
        ballots.check_ballot(vote, world.caller(world.observer), "yes")
    assert refused.value.code == "forbidden"
    assert vote.tally()["counts"] == {"yes": 4, "no": 1, "abstain": 1}
    async with db_sessions() as s:
        result = await voting.close_vote(s, chair, world.meeting_id, vote.id)
        await s.commit()
    assert (result["yes"], result["no"], result["abstain"]) == (4, 1, 1)
    assert result["passed"] and result["quorum_met"] and result["required"] == 4
    assert result["names"]["no"] == [world.names[world.delegates[3]]]
    assert result["not_voted"] == [world.names[world.chair]]
    by_point = {g["point_id"]: g for g in result["by_point"]}
    assert sum(g["ballots"] for g in by_point.values()) == 6
    assert by_point[None]["counts"]["yes"] + sum(g["counts"]["yes"] for p, g in by_point.items() if p) == 4
    async with db_sessions() as s:
        with pytest.raises(MeetingError):
            await ballots.cast_ballots(s, vote, [Ballot(world.chair, "c", "yes")])  # closed


async def test_show_of_hands_counts_and_limits(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await _opened(db_sessions, n_delegates=2)
    chair = world.caller(world.chair)
    async with db_sessions() as s:
        vote = await voting.open_vote(
            s, chair, world.meeting_id, title="Biểu quyết giơ tay", threshold="two_thirds",
            hand_seats={"xa-ba-che": 10, "phuong-ha-long": 5},
        )
        await s.commit()
    assert vote.total_members == 3 + 15
    async with db_sessions() as s:
        with pytest.raises(MeetingError) as refused:  # more hands than seats
            await voting.record_hands(s, world.caller("xa-ba-che"), vote, {"yes": 9, "no": 2, "abstain": 0})
        assert (refused.value.code, refused.value.params) == ("above_seats", {"hands": 11, "seats": 10})
        with pytest.raises(MeetingError) as refused:  # a point without seats
            await voting.record_hands(s, world.caller("phuong-cam-pha"), vote, {"yes": 1, "no": 0, "abstain": 0})
        assert refused.value.code == "forbidden"
        with pytest.raises(MeetingError):  # a delegate is not an operator
            await voting.record_hands(s, world.caller(world.delegates[0]), vote, {"yes": 1, "no": 0, "abstain": 0})
        await voting.record_hands(s, world.caller("xa-ba-che"), vote, {"yes": 3, "no": 0, "abstain": 0})
        await s.commit()
        # A corrected count replaces the previous one.
        await voting.record_hands(s, world.caller("xa-ba-che"), vote, {"yes": 8, "no": 1, "abstain": 1})
        await voting.record_hands(s, world.caller("phuong-ha-long"), vote, {"yes": 4, "no": 1, "abstain": 0})
        await s.commit()
    await _cast(db_sessions, vote, [Ballot(d, "", "yes") for d in world.delegates])
    async with db_sessions() as s:
        result = await voting.close_vote(s, chair, world.meeting_id, vote.id)
        await s.commit()
    # yes = 2 devices + 8 + 4 = 14 of 18; two thirds of 18 = 12.
    assert (result["yes"], result["no"], result["abstain"]) == (14, 2, 1)
    assert result["required"] == 12 and result["passed"]
    hands = {g["point_id"]: g["hands"] for g in result["by_point"] if g["hands"]}
    assert hands == {"xa-ba-che": {"yes": 8, "no": 1, "abstain": 1}, "phuong-ha-long": {"yes": 4, "no": 1, "abstain": 0}}


async def test_quorum_failure_and_one_open_vote_at_a_time(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await _opened(db_sessions)
    chair = world.caller(world.chair)
    async with db_sessions() as s:
        vote = await voting.open_vote(s, chair, world.meeting_id, title="Lần 1")
        await s.commit()
        with pytest.raises(MeetingError) as refused:
            await voting.open_vote(s, chair, world.meeting_id, title="Lần 2")
        assert refused.value.code == "conflict"
        await s.rollback()
    await _cast(db_sessions, vote, [Ballot(d, "", "yes") for d in world.delegates[:4]])
    async with db_sessions() as s:
        result = await voting.close_vote(s, chair, world.meeting_id, vote.id)
        await s.commit()
    # 4 of 7 took part; quorum two thirds of 7 = 5: not met, so not passed even with 4 yes.
    assert result["quorum"] == 5 and not result["quorum_met"] and not result["passed"]


async def test_refusals_change_nothing(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await _opened(db_sessions)
    for who, kwargs in [
        (world.delegates[0], {}),
        (world.secretary, {}),
        (world.chair, {"threshold": "most"}),
        (world.chair, {"voters": [world.observer]}),
        (world.chair, {"hand_seats": {"tinh-uy": 3}}),  # not in this meeting's room
        (world.chair, {"total_members": 2}),
        (world.chair, {"quorum": 99}),
    ]:
        async with db_sessions() as s:
            with pytest.raises(MeetingError):
                await voting.open_vote(s, world.caller(who), world.meeting_id, title="X", **kwargs)
            await s.rollback()
    async with db_sessions() as s:
        assert (await s.execute(select(Vote))).first() is None


async def _secret_vote(db_sessions, ballot_keys, n_delegates: int):  # type: ignore[no-untyped-def]
    """An open meeting with a secret vote open: (world, the chair as caller, the vote)."""
    world = await _opened(db_sessions, n_delegates=n_delegates)
    chair = world.caller(world.chair)
    async with db_sessions() as s:
        vote = await voting.open_vote(s, chair, world.meeting_id, title="Bỏ phiếu kín", secret=True, keys=ballot_keys)
        await s.commit()
    return world, chair, vote


async def test_secret_ballot_is_unlinkable_in_the_database(db_sessions, ballot_keys) -> None:  # type: ignore[no-untyped-def]
    world, chair, vote = await _secret_vote(db_sessions, ballot_keys, 8)
    choices = {d: c for d, c in zip(world.delegates, ["yes", "no", "yes", "abstain", "no", "yes", "yes", "no"])}
    # Batches of one, two and five ballots, in an order that is not the order of ids.
    order = list(reversed(world.delegates))
    for batch in (order[:1], order[1:3], order[3:]):
        await _cast(db_sessions, vote, [Ballot(d, world.names[d], choices[d]) for d in batch])
    assert "counts" not in vote.tally()  # the live tally of a secret vote shows turnout only
    async with db_sessions() as s:
        conn = await s.connection()
        # who-voted: vote and account only, nothing else.
        voter_columns = {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("vote_voter"))}
        assert voter_columns == {"vote_id", "account_id"}
        count_columns = {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("vote_count"))}
        assert count_columns == {"vote_id", "option", "count"}
        voters = set((await s.execute(select(VoteVoter.account_id).where(VoteVoter.vote_id == vote.id))).scalars())
        assert voters == set(world.delegates)
        counts = {r.option: r.count for r in (await s.execute(select(VoteCount).where(VoteCount.vote_id == vote.id))).scalars()}
        assert counts == {"yes": 0, "no": 0, "abstain": 0}  # counted only at the close
        sealed = (await s.execute(select(VoteSealedBallot.sealed).where(VoteSealedBallot.vote_id == vote.id))).scalars().all()
        assert sorted(map(len, sealed)) == [29] * 8  # every choice the same length
        assert await voting.count_sealed(s, vote.id, ballot_keys.load(vote.id)) == {"yes": 4, "no": 3, "abstain": 1}
        assert (await s.execute(select(VoteOpenChoice).where(VoteOpenChoice.vote_id == vote.id))).first() is None
        # No row anywhere holds both a voter's id and a choice: scan every table.
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for table in tables:
            rows = (await conn.execute(text(f'SELECT * FROM "{table}"'))).mappings().all()
            for row in rows:
                values = [str(v) for v in row.values()]
                joined = " ".join(values)
                if table == "audit_log" and row["action"] == "vote_cast":
                    assert json.loads(row["details"]) == {"vote_id": vote.id}
                if table in ("vote_count",):
                    continue
                for choice in ("yes", "no", "abstain"):
                    assert f'"{choice}"' not in joined or table == "audit_log" and row["action"] != "vote_cast", (table, row)
        # The audit entries of the ballots are in account order, not in the order they were cast.
        actors = (await conn.execute(text(
            "SELECT actor FROM audit_log WHERE action = 'vote_cast' ORDER BY seq"))).scalars().all()
        batches = [sorted(b) for b in (order[:1], order[1:3], order[3:])]
        assert actors == [f"account:{a}" for b in batches for a in b]
    async with db_sessions() as s:
        result = await voting.close_vote(s, chair, world.meeting_id, vote.id, keys=ballot_keys)
        await s.commit()
        assert (await s.execute(select(VoteSealedBallot).where(VoteSealedBallot.vote_id == vote.id))).first() is None
    ballot_keys.erase(vote.id)
    with pytest.raises(MeetingError, match="missing"):
        ballot_keys.load(vote.id)
    assert (result["yes"], result["no"], result["abstain"]) == (4, 3, 1)
    assert "names" not in result
    assert all("counts" not in g for g in result["by_point"])
    assert sum(g["ballots"] for g in result["by_point"]) == 8


async def test_a_secret_vote_whose_key_is_lost_takes_no_ballot_and_can_only_be_cancelled(db_sessions, ballot_keys) -> None:  # type: ignore[no-untyped-def]
    world, chair, vote = await _secret_vote(db_sessions, ballot_keys, 3)
    await _cast(db_sessions, vote, [Ballot(world.delegates[0], "", "yes")])
    (ballot_keys.directory / f"{vote.id}.key").unlink()  # the data directory lost it
    async with db_sessions() as s:
        reloaded = await voting.load_open_vote(s, vote.id, ballot_keys)  # as after a restart
    assert reloaded is not None and reloaded.key is None and reloaded.voted == {world.delegates[0]}
    async with db_sessions() as s:
        with pytest.raises(MeetingError, match="missing"):
            await ballots.cast_ballots(s, reloaded, [Ballot(world.delegates[1], "", "no")])
        await s.rollback()
        with pytest.raises(MeetingError, match=f"{vote.id}.key"):
            await voting.close_vote(s, chair, world.meeting_id, vote.id, keys=ballot_keys)
        await s.rollback()
    async with db_sessions() as s:
        result = await voting.close_vote(s, chair, world.meeting_id, vote.id, cancel=True, keys=ballot_keys)
        await s.commit()
    assert result["state"] == "cancelled" and result["ballots"] == 1
