"""Device ballots of an open vote, written in batches (group commit).

A batch is one transaction with a fixed number of statements whatever its size, because at
a province's scale every statement is a round trip through a busy event loop:
- who-voted rows in one INSERT that skips voters already recorded, so the primary key of
  `vote_voter`, not a prior SELECT, enforces one ballot per voter — a duplicate fails only
  its own ballot;
- open vote: ONE update of the option counters by the batch's aggregated deltas, which also
  checks that the vote is still open, and who chose what;
- secret vote: the choices sealed with the vote's key (meetings.sealed_ballots) in one
  INSERT, in random order; no counter changes until the close, so even a batch of one
  ballot shows nothing but a voter and an unreadable blob;
- one audit entry per ballot (actor = the voter; a secret ballot's entry has no choice), in
  one INSERT, linked to a chain head the writer may already know (`audit.append_many`).

Voters are written in account order, never in arrival order.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.control_common import Caller, allow
from meetings.control_models import VOTE_OPTIONS, Vote, VoteCount, VoteOpenChoice, VoteSealedBallot, VoteVoter
from meetings.meetings_service import MeetingError
from meetings.models import utcnow
from meetings.sealed_ballots import seal
from meetings.voting import OpenVote

ALREADY_VOTED = "you have already voted"


@dataclass(frozen=True)
class Ballot:
    account_id: int
    name: str
    choice: str


@dataclass(frozen=True)
class BatchResult:
    """One refusal per ballot, in the order given (None: counted), and the audit chain's new head."""

    refusals: list[MeetingError | None]
    accepted: list[Ballot]
    audit_head: audit.Head | None  # None when nothing was written


def refusal(vote: OpenVote, account_id: int | None, choice: Any) -> MeetingError | None:
    """Why the open vote refuses this ballot, judged from memory (the database has the last word)."""
    if choice not in VOTE_OPTIONS:
        return MeetingError("bad_request", f"choice: one of {', '.join(VOTE_OPTIONS)}")
    if account_id is None or account_id not in vote.eligible:
        return MeetingError("forbidden", "you are not an eligible voter in this vote")
    if account_id in vote.voted:
        return MeetingError("conflict", ALREADY_VOTED)
    return None


def check_ballot(vote: OpenVote, caller: Caller, choice: Any) -> None:
    """Everything that can refuse a ballot, before it is queued for writing."""
    if choice not in VOTE_OPTIONS:
        raise MeetingError("bad_request", f"choice: one of {', '.join(VOTE_OPTIONS)}")
    allow(caller, "vote_cast")
    error = refusal(vote, caller.account_id, choice)
    if error is not None:
        raise error


async def cast_ballots(
    session: AsyncSession, vote: OpenVote, ballots: Sequence[Ballot], audit_head: audit.Head | None = None
) -> BatchResult:
    """Write a batch of ballots in the caller's transaction (the caller commits).

    Each ballot is refused on its own (bad choice, not eligible, second ballot of a voter);
    the others are written. A closed vote refuses the whole batch (MeetingError). The
    in-memory `vote` is only updated by `apply_batch` after the commit. `audit_head`: see
    `audit.append_many` (audit.StaleHead if entries were appended since).
    """
    refusals: list[MeetingError | None] = []
    wanted: dict[int, Ballot] = {}
    for b in ballots:
        error = refusal(vote, b.account_id, b.choice)
        if error is None and b.account_id in wanted:
            error = MeetingError("conflict", ALREADY_VOTED)
        if error is None:
            wanted[b.account_id] = b
        refusals.append(error)
    inserted = await _insert_voters(session, vote.id, sorted(wanted)) if wanted else set()
    accepted = [wanted[a] for a in sorted(inserted)]  # account order: no arrival order is kept
    for i, b in enumerate(ballots):
        if refusals[i] is None and b.account_id not in inserted:
            refusals[i] = MeetingError("conflict", ALREADY_VOTED)  # recorded before (another writer)
    if not accepted:
        return BatchResult(refusals, [], None)
    if vote.secret:
        await _add_sealed(session, vote, accepted)
    else:
        await _add_to_counters(session, vote.id, accepted)
        now = utcnow()
        await session.execute(insert(VoteOpenChoice), [
            {"vote_id": vote.id, "account_id": b.account_id, "choice": b.choice, "cast_at": now} for b in accepted])
    entries = [
        (audit.Actor(f"account:{b.account_id}", b.name), "vote_cast",
         {"vote_id": vote.id} if vote.secret else {"vote_id": vote.id, "choice": b.choice})
        for b in accepted
    ]
    head = await audit.append_many(session, vote.meeting_id, entries, after=audit_head)
    return BatchResult(refusals, accepted, head)


async def _insert_voters(session: AsyncSession, vote_id: int, account_ids: list[int]) -> set[int]:
    """Who-voted rows, skipping voters already recorded; returns the voters inserted now."""
    dialect = (await session.connection()).dialect.name
    insert_skipping = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert_skipping(VoteVoter.__table__)
        .values([{"vote_id": vote_id, "account_id": a} for a in account_ids])
        .on_conflict_do_nothing(index_elements=["vote_id", "account_id"])
        .returning(VoteVoter.__table__.c.account_id)
    )
    return set((await session.execute(statement)).scalars())


async def _add_to_counters(session: AsyncSession, vote_id: int, accepted: Sequence[Ballot]) -> None:
    """Add the batch's deltas to every option's counter, if the vote is still open."""
    deltas = dict.fromkeys(VOTE_OPTIONS, 0)
    for b in accepted:
        deltas[b.choice] += 1
    counters = VoteCount.__table__
    still_open = select(Vote.id).where(Vote.id == vote_id, Vote.state == "open").exists()
    result = await session.execute(
        update(counters)
        .where(counters.c.vote_id == vote_id, still_open)
        .values(count=counters.c.count + case(deltas, value=counters.c.option, else_=0))
    )
    if result.rowcount != len(VOTE_OPTIONS):  # type: ignore[attr-defined]
        raise MeetingError("conflict", "this vote is closed")


async def _add_sealed(session: AsyncSession, vote: OpenVote, accepted: Sequence[Ballot]) -> None:
    """The batch's choices, sealed and shuffled, if the vote is still open."""
    if vote.key is None:
        raise MeetingError("conflict", "the ballot key of this secret vote is missing: it can only be cancelled")
    state = await session.scalar(select(Vote.state).where(Vote.id == vote.id))
    if state != "open":
        raise MeetingError("conflict", "this vote is closed")
    rows = [{"vote_id": vote.id, "sealed": seal(vote.key, vote.id, b.choice)} for b in accepted]
    secrets.SystemRandom().shuffle(rows)
    await session.execute(insert(VoteSealedBallot), rows)


def apply_batch(vote: OpenVote, accepted: Sequence[Ballot]) -> None:
    """Update the in-memory tally with ballots whose batch has been committed."""
    for b in accepted:
        vote.voted.add(b.account_id)
        vote.counts[b.choice] += 1
