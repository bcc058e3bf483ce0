"""Voting (biểu quyết): open or secret ballots, show of hands per point, thresholds and quorum.

Rules (defaults; each vote carries its own settings):
- options: yes (tán thành), no (không tán thành), abstain (không biểu quyết);
- a decision passes with more than half of the TOTAL members (not of those present) voting
  yes, or at least two thirds when the vote says so; a tie therefore never passes;
- it needs a quorum: at least `quorum` members taking part (every option counts, abstain
  included); by default two thirds of the total members.

Secret ballots are unlinkable (see meetings.control_models): ballots are written in batches
(meetings.ballots), who-voted rows and choices sealed with a key kept outside the database
(meetings.sealed_ballots), counted when the vote closes; never a row that joins the two.
"""
from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.attendance import default_members, members_total
from meetings.control_common import Caller, allow, clean_text, get_meeting
from meetings.control_models import (
    THRESHOLDS,
    VOTE_OPTIONS,
    AgendaItem,
    Vote,
    VoteCount,
    VoteEligible,
    VoteHands,
    VoteOpenChoice,
    VoteSealedBallot,
    VoteVoter,
)
from meetings.meetings_service import MeetingError
from meetings.models import Account, BridgePoint, MeetingPoint, utcnow
from meetings.sealed_ballots import BallotKeys, unseal

MAX_SEATS = 10_000


# ---------------------------------------------------------------- rules (pure)

def required_yes(total_members: int, threshold: str) -> int:
    """Fewest yes votes that pass: more than half, or at least two thirds, of the total members."""
    if threshold == "two_thirds":
        return math.ceil(2 * total_members / 3)
    return total_members // 2 + 1


def default_quorum(total_members: int) -> int:
    return math.ceil(2 * total_members / 3)


@dataclass(frozen=True)
class Decision:
    yes: int
    no: int
    abstain: int
    total_members: int
    threshold: str
    required: int
    quorum: int
    participated: int
    quorum_met: bool
    passed: bool
    tie: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decide(yes: int, no: int, abstain: int, *, total_members: int, threshold: str = "majority",
           quorum: int | None = None) -> Decision:
    if threshold not in THRESHOLDS:
        raise ValueError(f"unknown threshold {threshold!r}")
    if min(yes, no, abstain) < 0 or total_members < 1:
        raise ValueError("counts must be >= 0 and total_members >= 1")
    if yes + no + abstain > total_members:
        raise ValueError("more ballots than members")
    quorum = default_quorum(total_members) if quorum is None else quorum
    participated = yes + no + abstain
    required = required_yes(total_members, threshold)
    quorum_met = participated >= quorum
    return Decision(
        yes=yes, no=no, abstain=abstain, total_members=total_members, threshold=threshold, required=required,
        quorum=quorum, participated=participated, quorum_met=quorum_met,
        passed=quorum_met and yes >= required, tie=yes == no,
    )


# ---------------------------------------------------------------- opening

@dataclass
class OpenVote:
    """What the server keeps in memory while a vote is open."""

    id: int
    meeting_id: int
    title: str
    secret: bool
    threshold: str
    total_members: int
    quorum: int
    item_id: int | None
    eligible: dict[int, str | None]  # account id -> point id
    hand_seats: dict[str, int]
    voted: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VOTE_OPTIONS, 0))
    hands: dict[str, dict[str, int]] = field(default_factory=dict)
    key: bytes | None = field(default=None, repr=False)  # a secret vote's ballot key (memory and its file only)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "meeting_id": self.meeting_id, "title": self.title, "secret": self.secret,
            "threshold": self.threshold, "total_members": self.total_members, "quorum": self.quorum,
            "item_id": self.item_id, "eligible": len(self.eligible), "voters": sorted(self.eligible),
            "hand_seats": self.hand_seats,
            "options": list(VOTE_OPTIONS), "required": required_yes(self.total_members, self.threshold),
        }

    def tally(self) -> dict[str, Any]:
        """The live tally: turnout for every vote; counts per option only for open votes."""
        hands_total = {o: sum(h[o] for h in self.hands.values()) for o in VOTE_OPTIONS}
        data: dict[str, Any] = {
            "vote_id": self.id, "ballots": len(self.voted), "hands": sum(hands_total.values()),
            "cast": len(self.voted) + sum(hands_total.values()), "eligible": len(self.eligible),
        }
        if not self.secret:
            data["counts"] = {o: self.counts[o] + hands_total[o] for o in VOTE_OPTIONS}
        return data


async def _eligible_accounts(session: AsyncSession, meeting_id: int, voters: Sequence[int] | None) -> dict[int, tuple[str | None, str]]:
    members = await default_members(session, meeting_id)  # account id -> (point id, name)
    if voters is None:
        return members
    unknown = [v for v in voters if v not in members]
    if unknown:
        raise MeetingError("bad_request", f"voters: not members of this meeting: {unknown[:10]}")
    return {v: members[v] for v in voters}


async def open_vote(
    session: AsyncSession, caller: Caller, meeting_id: int, *, title: str, secret: bool = False,
    threshold: str = "majority", quorum: int | None = None, voters: Sequence[int] | None = None,
    hand_seats: dict[str, int] | None = None, total_members: int | None = None, item_id: int | None = None,
    keys: BallotKeys | None = None,
) -> OpenVote:
    """Open a vote; a secret one needs `keys`, where its ballot key is written before the commit."""
    allow(caller, "vote_open")
    if secret and keys is None:
        raise ValueError("a secret vote needs a BallotKeys store for its key")
    await get_meeting(session, meeting_id, states=("open",))
    title = clean_text(title, "title", 500)
    if threshold not in THRESHOLDS:
        raise MeetingError("bad_request", f"threshold: one of {', '.join(THRESHOLDS)}")
    if voters is not None and len(set(voters)) != len(voters):
        raise MeetingError("bad_request", "voters: each account at most once")
    if await session.scalar(select(Vote.id).where(Vote.meeting_id == meeting_id, Vote.state == "open")):
        raise MeetingError("conflict", "another vote is open in this meeting")
    if item_id is not None:
        item = await session.get(AgendaItem, item_id)
        if item is None or item.meeting_id != meeting_id:
            raise MeetingError("not_found", f"no agenda item {item_id} in this meeting")
    seats = dict(hand_seats or {})
    invited_points = set(
        (await session.execute(select(MeetingPoint.point_id).where(MeetingPoint.meeting_id == meeting_id))).scalars()
    )
    for point_id, n in seats.items():
        if point_id not in invited_points:
            raise MeetingError("bad_request", f"hand_seats: point {point_id!r} is not in this meeting")
        if not 0 < n <= MAX_SEATS:
            raise MeetingError("bad_request", f"hand_seats: between 1 and {MAX_SEATS} per point")
    eligible = await _eligible_accounts(session, meeting_id, voters)
    voting = len(eligible) + sum(seats.values())
    if total_members is None:
        configured = await members_total(session, meeting_id)
        total_members = max(configured, voting) if configured else voting
    if total_members < max(voting, 1):
        raise MeetingError("bad_request", "total_members: fewer than the voters (device and hand seats)")
    if quorum is None:
        quorum = default_quorum(total_members)
    if not 0 <= quorum <= total_members:
        raise MeetingError("bad_request", "quorum: between 0 and total_members")
    if item_id is None:
        item_id = await session.scalar(
            select(AgendaItem.id).where(AgendaItem.meeting_id == meeting_id, AgendaItem.state == "current")
        )
    vote = Vote(
        meeting_id=meeting_id, item_id=item_id, title=title, secret=secret, threshold=threshold,
        total_members=total_members, quorum=quorum, hand_seats=json.dumps(seats, sort_keys=True), state="open",
        opened_at=utcnow(),
    )
    session.add(vote)
    await session.flush()
    key = await asyncio.to_thread(keys.create, vote.id) if secret and keys is not None else None
    session.add_all(VoteEligible(vote_id=vote.id, account_id=a, point_id=p, name=n) for a, (p, n) in eligible.items())
    session.add_all(VoteCount(vote_id=vote.id, option=o, count=0) for o in VOTE_OPTIONS)
    await audit.append(
        session, meeting_id, caller.actor, "vote_open", vote_id=vote.id, title=title, secret=secret,
        threshold=threshold, total_members=total_members, quorum=quorum, eligible=sorted(eligible),
        hand_seats=seats, item_id=item_id,
    )
    return OpenVote(
        id=vote.id, meeting_id=meeting_id, title=title, secret=secret, threshold=threshold,
        total_members=total_members, quorum=quorum, item_id=item_id,
        eligible={a: p for a, (p, _) in eligible.items()}, hand_seats=seats, key=key,
    )


async def load_open_vote(session: AsyncSession, vote_id: int, keys: BallotKeys | None = None) -> OpenVote | None:
    """Rebuild the in-memory view of an open vote from the database (after a restart);
    a secret vote's counts from its sealed ballots, with its key from `keys`."""
    vote = await session.get(Vote, vote_id)
    if vote is None or vote.state != "open":
        return None
    if vote.secret and keys is None:
        raise ValueError("a secret vote needs a BallotKeys store for its key")
    eligible = {
        r.account_id: r.point_id
        for r in (await session.execute(select(VoteEligible).where(VoteEligible.vote_id == vote_id))).scalars()
    }
    ov = OpenVote(
        id=vote.id, meeting_id=vote.meeting_id, title=vote.title, secret=vote.secret, threshold=vote.threshold,
        total_members=vote.total_members, quorum=vote.quorum, item_id=vote.item_id, eligible=eligible,
        hand_seats=json.loads(vote.hand_seats),
    )
    ov.voted = set((await session.execute(select(VoteVoter.account_id).where(VoteVoter.vote_id == vote_id))).scalars())
    if vote.secret:
        assert keys is not None
        try:
            ov.key = keys.load(vote_id)
        except MeetingError:
            ov.key = None  # lost: the vote takes no ballot and can only be cancelled
        else:
            ov.counts = await count_sealed(session, vote_id, ov.key)
    else:
        for r in (await session.execute(select(VoteCount).where(VoteCount.vote_id == vote_id))).scalars():
            ov.counts[r.option] = r.count
    for h in (await session.execute(select(VoteHands).where(VoteHands.vote_id == vote_id))).scalars():
        ov.hands[h.point_id] = {"yes": h.yes, "no": h.no, "abstain": h.abstain}
    return ov


async def count_sealed(session: AsyncSession, vote_id: int, key: bytes) -> dict[str, int]:
    """Open a secret vote's sealed ballots and count them (off the event loop: thousands of them)."""
    blobs = list((await session.execute(select(VoteSealedBallot.sealed).where(VoteSealedBallot.vote_id == vote_id))).scalars())

    def count() -> dict[str, int]:
        counts = dict.fromkeys(VOTE_OPTIONS, 0)
        for blob in blobs:
            counts[unseal(key, vote_id, blob)] += 1
        return counts

    return await asyncio.to_thread(count)


async def open_vote_ids(session: AsyncSession) -> list[int]:
    return list((await session.execute(select(Vote.id).where(Vote.state == "open"))).scalars())


async def open_vote_id(session: AsyncSession, meeting_id: int) -> int | None:
    return await session.scalar(select(Vote.id).where(Vote.meeting_id == meeting_id, Vote.state == "open"))


async def record_hands(
    session: AsyncSession, caller: Caller, vote: OpenVote, counts: dict[str, int]
) -> dict[str, int]:
    """A bridge point's show of hands (replaces its previous entry while the vote is open)."""
    allow(caller, "vote_hands")
    if set(counts) != set(VOTE_OPTIONS) or any(type(v) is not int or v < 0 for v in counts.values()):
        raise MeetingError("bad_request", "counts: a non-negative integer for each of yes, no, abstain")
    point_id = caller.point_id
    seats = vote.hand_seats.get(point_id or "")
    if not seats:
        raise MeetingError("forbidden", "this point has no seats voting by show of hands in this vote")
    hands = sum(counts.values())
    if hands > seats:
        raise MeetingError("above_seats", f"counts: at most {seats} hands at this point", {"hands": hands, "seats": seats})
    room = await session.get(MeetingPoint, (vote.meeting_id, point_id))
    if room is not None and room.headcount is not None and hands > room.headcount:
        raise MeetingError("above_headcount", f"counts: more hands than the {room.headcount} members the point reported present",
                           {"hands": hands, "headcount": room.headcount})
    db_vote = await session.get(Vote, vote.id)
    if db_vote is None or db_vote.state != "open":
        raise MeetingError("conflict", "this vote is closed")
    row = await session.get(VoteHands, (vote.id, point_id))
    if row is None:
        row = VoteHands(vote_id=vote.id, point_id=point_id)
        session.add(row)
    row.yes, row.no, row.abstain, row.reported_at = counts["yes"], counts["no"], counts["abstain"], utcnow()
    await audit.append(session, vote.meeting_id, caller.actor, "vote_hands", vote_id=vote.id, point_id=point_id, **counts)
    return dict(counts)


# ---------------------------------------------------------------- closing

async def close_vote(
    session: AsyncSession, caller: Caller, meeting_id: int, vote_id: int, *, cancel: bool = False,
    keys: BallotKeys | None = None,
) -> dict[str, Any]:
    """Close (or cancel) a vote; the result is computed from the database, stored and returned.

    A secret vote's sealed ballots are opened with its key from `keys`, counted into its
    counters and deleted; the caller erases the key once this is committed."""
    allow(caller, "vote_cancel" if cancel else "vote_close")
    vote = await session.get(Vote, vote_id)
    if vote is None or vote.meeting_id != meeting_id:
        raise MeetingError("not_found", f"no vote {vote_id} in this meeting")
    if vote.state != "open":
        raise MeetingError("conflict", f"the vote is {vote.state}")
    if vote.secret:
        if keys is None:
            raise ValueError("a secret vote needs a BallotKeys store for its key")
        try:
            key: bytes | None = keys.load(vote_id)
        except MeetingError:
            if not cancel:
                raise
            key = None  # cancelling a vote whose key was lost: its ballots are never opened
        if key is not None:
            counts = await count_sealed(session, vote_id, key)
            for row in (await session.execute(select(VoteCount).where(VoteCount.vote_id == vote_id))).scalars():
                row.count = counts[row.option]
        await session.execute(delete(VoteSealedBallot).where(VoteSealedBallot.vote_id == vote_id))
    vote.state, vote.closed_at = ("cancelled" if cancel else "closed"), utcnow()
    result = await compute_result(session, vote)
    vote.result = json.dumps(result, ensure_ascii=False, sort_keys=True)
    summary = {k: result[k] for k in ("yes", "no", "abstain", "passed", "quorum_met", "participated")}
    await audit.append(session, meeting_id, caller.actor, "vote_cancel" if cancel else "vote_close",
                       vote_id=vote_id, **summary)
    return result


async def compute_result(session: AsyncSession, vote: Vote) -> dict[str, Any]:
    device = {r.option: r.count for r in (await session.execute(select(VoteCount).where(VoteCount.vote_id == vote.id))).scalars()}
    hands = list((await session.execute(select(VoteHands).where(VoteHands.vote_id == vote.id))).scalars())
    eligible = list((await session.execute(select(VoteEligible).where(VoteEligible.vote_id == vote.id))).scalars())
    voted = set((await session.execute(select(VoteVoter.account_id).where(VoteVoter.vote_id == vote.id))).scalars())
    totals = {o: device.get(o, 0) + sum(getattr(h, o) for h in hands) for o in VOTE_OPTIONS}
    decision = decide(totals["yes"], totals["no"], totals["abstain"], total_members=vote.total_members,
                      threshold=vote.threshold, quorum=vote.quorum)
    seats: dict[str, int] = json.loads(vote.hand_seats)
    point_names = dict((await session.execute(select(BridgePoint.id, BridgePoint.name))).all())
    choices: dict[int, str] = {}
    if not vote.secret:
        choices = dict(
            (await session.execute(
                select(VoteOpenChoice.account_id, VoteOpenChoice.choice).where(VoteOpenChoice.vote_id == vote.id)
            )).all()
        )
    groups: dict[str | None, dict[str, Any]] = {}

    def group(point_id: str | None) -> dict[str, Any]:
        if point_id not in groups:
            groups[point_id] = {
                "point_id": point_id, "name": point_names.get(point_id, "") if point_id else "",
                "eligible": 0, "ballots": 0, "hand_seats": seats.get(point_id or "", 0), "hands": None,
            }
            if not vote.secret:
                groups[point_id]["counts"] = dict.fromkeys(VOTE_OPTIONS, 0)
        return groups[point_id]

    for e in eligible:
        g = group(e.point_id)
        g["eligible"] += 1
        if e.account_id in voted:
            g["ballots"] += 1
            if not vote.secret and e.account_id in choices:
                g["counts"][choices[e.account_id]] += 1
    for point_id in seats:
        group(point_id)
    for h in hands:
        g = group(h.point_id)
        g["hands"] = {"yes": h.yes, "no": h.no, "abstain": h.abstain}
        if not vote.secret:
            for o in VOTE_OPTIONS:
                g["counts"][o] += getattr(h, o)
    result: dict[str, Any] = {
        "vote_id": vote.id, "title": vote.title, "secret": vote.secret, "state": vote.state,
        **decision.as_dict(),
        "device": {o: device.get(o, 0) for o in VOTE_OPTIONS},
        "ballots": len(voted), "eligible": len(eligible),
        "by_point": sorted(groups.values(), key=lambda g: (g["point_id"] is None, g["point_id"] or "")),
    }
    if not vote.secret:
        names = {e.account_id: e.name for e in eligible}
        result["names"] = {
            o: sorted(names[a] for a, c in choices.items() if c == o and a in names) for o in VOTE_OPTIONS
        }
        result["not_voted"] = sorted(e.name for e in eligible if e.account_id not in voted)
    return result


async def vote_results(session: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(Vote).where(Vote.meeting_id == meeting_id, Vote.state == "closed").order_by(Vote.id)
        )
    ).scalars()
    return [json.loads(v.result) for v in rows if v.result]


async def account_names(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    return dict((await session.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids)))).all())
