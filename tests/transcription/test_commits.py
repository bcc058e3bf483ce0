"""Segments committed in groups (web/captions/commits.py) on SQLite and PostgreSQL: the finals
that meet share one transaction, each is committed when its caller hears back, a bad one costs
no other."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import event, select

from meetings import moderation, transcript
from meetings.meetings_service import MeetingError
from meetings.models import utcnow
from meetings.transcript_models import TranscriptSegment
from tests.control.helpers import make_world
from web.captions.commits import Draft, SegmentCommitter


def _draft(world, delegate: int, text: str, meeting_id: int | None = None) -> Draft:  # type: ignore[no-untyped-def]
    start = utcnow()
    return Draft(meeting_id or world.meeting_id, f"account:{delegate}", start, start + timedelta(seconds=1), text,
                 [transcript.Word("chào", 0.1, 0.5, 0.9)])


async def test_finals_that_meet_share_a_transaction_and_each_is_committed(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db_sessions)
    async with db_sessions() as session:
        await moderation.open_meeting(session, world.caller(world.chair), world.meeting_id)
        await session.commit()
    commits: list[int] = []

    def sessions():  # type: ignore[no-untyped-def]
        session = db_sessions()
        event.listen(session.sync_session, "after_commit", lambda _s: commits.append(1))
        return session

    committer = SegmentCommitter(sessions)
    speakers = world.delegates[:3]
    stored = await asyncio.gather(*[committer.commit(_draft(world, d, f"lời {n}")) for n, d in enumerate(speakers)])
    assert [segment["text"] for segment, _ in stored] == ["lời 0", "lời 1", "lời 2"]
    assert [speaker.account_id for _, speaker in stored] == speakers
    assert len(commits) == 1  # the three met: one transaction
    async with db_sessions() as session:  # committed, not only flushed
        rows = (await session.execute(select(TranscriptSegment.text).order_by(TranscriptSegment.id))).scalars().all()
    assert rows == ["lời 0", "lời 1", "lời 2"]
    (alone, _), = await asyncio.gather(committer.commit(_draft(world, speakers[0], "một mình")))
    assert alone["text"] == "một mình" and len(commits) == 2


async def test_a_bad_segment_costs_no_other(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db_sessions)
    committer = SegmentCommitter(db_sessions)
    good, bad, also_good = await asyncio.gather(
        committer.commit(_draft(world, world.delegates[0], "đúng")),
        committer.commit(_draft(world, world.delegates[1], "sai", meeting_id=world.meeting_id + 999)),
        committer.commit(_draft(world, world.delegates[2], "cũng đúng")), return_exceptions=True)
    assert isinstance(bad, MeetingError)
    assert good[0]["text"] == "đúng" and also_good[0]["text"] == "cũng đúng"  # type: ignore[index]
    async with db_sessions() as session:
        rows = (await session.execute(select(TranscriptSegment.text).order_by(TranscriptSegment.id))).scalars().all()
    assert rows == ["đúng", "cũng đúng"]
