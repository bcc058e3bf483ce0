"""The meeting transcript: who said what, when, under which agenda item; search and corrections.

Recognition itself lives in `transcription/`; this module only decides attribution (whose
name a microphone's speech carries) and stores segments. A browser participant's speech is
theirs. A bridge point's microphone belongs to a room: while the chair has given the floor
to a request from that point (a delegate sitting there, or someone the point asked for), its
speech carries that speaker's name, otherwise the point's own name.

Search ignores diacritics and case on both engines by matching the folded query against the
folded text stored beside it (`fold`: "Kế hoạch ĐẦU TƯ" → "ke hoach dau tu").
"""
from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.control_common import Caller, allow, clean_text, get_meeting
from meetings.control_models import AgendaItem, SpeakRequest
from meetings.meetings_service import MeetingError
from meetings.models import Account, BridgePoint, Meeting, Participant, utcnow
from meetings.transcript_models import TranscriptCorrection, TranscriptSegment

MAX_TEXT = 20_000
MAX_WORDS = 5_000
MAX_QUERY = 200
SEARCH_LIMIT = 500


@dataclass(frozen=True)
class Word:
    word: str
    start_s: float  # seconds since the segment's start
    end_s: float
    conf: float


@dataclass(frozen=True)
class Speaker:
    """Whose name a segment carries: an account, a bridge point, or a delegate at a point."""

    name: str
    account_id: int | None = None
    point_id: str | None = None


def fold(text: str) -> str:
    """Lower case without diacritics, đ as d, whitespace collapsed: the form search compares."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def attribute(session: AsyncSession, meeting_id: int, source: str) -> Speaker:
    """The speaker of a microphone now. `source` is "account:<id>" or "point:<id>"."""
    kind, _, ident = source.partition(":")
    if kind == "account" and ident.isdigit():
        account = await session.get(Account, int(ident))
        if account is None:
            raise MeetingError("not_found", f"source {source!r}: no such account")
        participant = (
            await session.execute(
                select(Participant.point_id).where(
                    Participant.meeting_id == meeting_id, Participant.account_id == account.id
                )
            )
        ).scalar_one_or_none()
        return Speaker(account.display_name, account.id, participant)
    if kind == "point" and ident:
        point = await session.get(BridgePoint, ident)
        if point is None:
            raise MeetingError("not_found", f"source {source!r}: no such bridge point")
        turn = (
            await session.execute(
                select(SpeakRequest).where(
                    SpeakRequest.meeting_id == meeting_id, SpeakRequest.state == "speaking",
                    SpeakRequest.point_id == ident,
                )
            )
        ).scalar_one_or_none()
        if turn is None:
            return Speaker(point.name, None, ident)
        who, _, account_id = turn.requester.partition(":")
        return Speaker(turn.speaker_name, int(account_id) if who == "account" else None, ident)
    raise MeetingError("bad_request", f"source {source!r}: expected account:<id> or point:<id>")


async def _item_at(session: AsyncSession, meeting_id: int, at: datetime) -> int | None:
    """The agenda item that was current at `at` (started before it and not yet ended then)."""
    rows = (
        await session.execute(
            select(AgendaItem).where(AgendaItem.meeting_id == meeting_id, AgendaItem.started_at.is_not(None))
        )
    ).scalars().all()
    live = [i for i in rows if i.started_at <= at and (i.ended_at is None or i.ended_at > at)]  # type: ignore[operator]
    return max(live, key=lambda i: i.started_at).id if live else None  # type: ignore[arg-type,return-value]


def _meeting_time(meeting: Meeting, at: datetime) -> float:
    origin = meeting.opened_at or meeting.scheduled_start
    return round(max(0.0, (at - origin).total_seconds()), 3)


def _check_words(words: Sequence[Word], duration_s: float) -> list[dict[str, Any]]:
    if len(words) > MAX_WORDS:
        raise MeetingError("bad_request", f"words: at most {MAX_WORDS}")
    out = []
    for n, w in enumerate(words):
        numbers = (w.start_s, w.end_s, w.conf)
        if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers):
            raise MeetingError("bad_request", f"words[{n}]: times and confidence must be finite numbers")
        if not 0 <= w.start_s <= w.end_s <= duration_s + 0.5 or not 0 <= w.conf <= 1:
            raise MeetingError("bad_request", f"words[{n}]: needs 0 <= start <= end <= segment length, 0 <= conf <= 1")
        out.append({"word": clean_text(w.word, f"words[{n}]", 200), "start_s": round(w.start_s, 3),
                    "end_s": round(w.end_s, 3), "conf": round(w.conf, 3)})
    return out


async def commit_segment(
    session: AsyncSession, meeting_id: int, source: str, speaker: Speaker, started_at: datetime,
    ended_at: datetime, text: str, words: Sequence[Word] = (), *, kind: str = "speech",
) -> dict[str, Any]:
    """Store a final result (not committed: the caller commits, then broadcasts)."""
    meeting = await get_meeting(session, meeting_id)
    if kind not in ("speech", "gap"):
        raise MeetingError("bad_request", f"kind: {kind!r} is neither speech nor gap")
    if started_at.tzinfo is None or ended_at.tzinfo is None or ended_at < started_at:
        raise MeetingError("bad_request", "started_at/ended_at: timezone-aware, and the end not before the start")
    text = clean_text(text, "text", MAX_TEXT)
    checked = _check_words(words, (ended_at - started_at).total_seconds())
    row = TranscriptSegment(
        meeting_id=meeting_id, item_id=await _item_at(session, meeting_id, started_at), kind=kind,
        source=clean_text(source, "source", 80), speaker_account_id=speaker.account_id,
        speaker_point_id=speaker.point_id, speaker_name=clean_text(speaker.name, "speaker", 200),
        start_s=_meeting_time(meeting, started_at), end_s=_meeting_time(meeting, ended_at),
        started_at=started_at, ended_at=ended_at, text=text, original_text=text, search_text=fold(text),
        words=json.dumps(checked, ensure_ascii=False), created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return segment_dict(row, [])


def segment_dict(row: TranscriptSegment, corrections: Sequence[TranscriptCorrection]) -> dict[str, Any]:
    return {
        "id": row.id, "meeting_id": row.meeting_id, "item_id": row.item_id, "kind": row.kind,
        "source": row.source, "speaker": row.speaker_name, "speaker_account_id": row.speaker_account_id,
        "speaker_point_id": row.speaker_point_id, "start_s": row.start_s, "end_s": row.end_s,
        "started_at": row.started_at.isoformat(), "ended_at": row.ended_at.isoformat(),
        "text": row.text, "original_text": row.original_text, "words": json.loads(row.words),
        "corrections": [
            {"field": c.field, "before": c.before, "after": c.after, "by": c.by, "by_name": c.by_name,
             "at": c.at.isoformat()}
            for c in corrections
        ],
    }


async def _with_corrections(session: AsyncSession, rows: Sequence[TranscriptSegment]) -> list[dict[str, Any]]:
    by_segment: dict[int, list[TranscriptCorrection]] = {}
    if rows:
        found = await session.execute(
            select(TranscriptCorrection)
            .where(TranscriptCorrection.segment_id.in_([r.id for r in rows]))
            .order_by(TranscriptCorrection.id)
        )
        for c in found.scalars():
            by_segment.setdefault(c.segment_id, []).append(c)
    return [segment_dict(r, by_segment.get(r.id, [])) for r in rows]


_UNSET: Any = object()


async def segments(
    session: AsyncSession, meeting_id: int, *, item_id: int | None = _UNSET, after_id: int = 0,
) -> list[dict[str, Any]]:
    """A meeting's segments in time order; `item_id` (None: outside any item) narrows to one item."""
    query = select(TranscriptSegment).where(TranscriptSegment.meeting_id == meeting_id, TranscriptSegment.id > after_id)
    if item_id is not _UNSET:
        query = query.where(
            TranscriptSegment.item_id.is_(None) if item_id is None else TranscriptSegment.item_id == item_id
        )
    rows = (await session.execute(query.order_by(TranscriptSegment.started_at, TranscriptSegment.id))).scalars().all()
    return await _with_corrections(session, rows)


async def search(session: AsyncSession, meeting_id: int, query: str) -> list[dict[str, Any]]:
    """Segments whose current text contains the query, ignoring diacritics, case and spacing."""
    folded = fold(query)
    if not folded:
        raise MeetingError("bad_request", "q: must not be empty")
    if len(folded) > MAX_QUERY:
        raise MeetingError("bad_request", f"q: at most {MAX_QUERY} characters")
    rows = (
        await session.execute(
            select(TranscriptSegment)
            .where(TranscriptSegment.meeting_id == meeting_id,
                   TranscriptSegment.search_text.like(f"%{_like_escape(folded)}%", escape="\\"))
            .order_by(TranscriptSegment.started_at, TranscriptSegment.id)
            .limit(SEARCH_LIMIT)
        )
    ).scalars().all()
    return await _with_corrections(session, rows)


async def _segment(session: AsyncSession, meeting_id: int, segment_id: int) -> TranscriptSegment:
    row = await session.get(TranscriptSegment, segment_id)
    if row is None or row.meeting_id != meeting_id:
        raise MeetingError("not_found", f"no transcript segment {segment_id} in this meeting")
    return row


async def correct(
    session: AsyncSession, caller: Caller, meeting_id: int, segment_id: int, *, text: str | None = None,
    speaker: Speaker | None = None,
) -> dict[str, Any]:
    """The secretary changes a segment's text and/or speaker; the before/after and who are kept."""
    allow(caller, "transcript_correct")
    row = await _segment(session, meeting_id, segment_id)
    if row.kind != "speech":
        raise MeetingError("conflict", "only recognised speech can be corrected")
    changes: list[tuple[str, str, str]] = []
    if text is not None:
        text = clean_text(text, "text", MAX_TEXT)
        if text != row.text:
            changes.append(("text", row.text, text))
            row.text, row.search_text = text, fold(text)
    if speaker is not None:
        name = clean_text(speaker.name, "speaker", 200)
        if (name, speaker.account_id, speaker.point_id) != (row.speaker_name, row.speaker_account_id, row.speaker_point_id):
            changes.append(("speaker", row.speaker_name, name))
            row.speaker_name, row.speaker_account_id, row.speaker_point_id = name, speaker.account_id, speaker.point_id
    if not changes:
        raise MeetingError("bad_request", "nothing to change")
    now = utcnow()
    for field, before, after in changes:
        session.add(TranscriptCorrection(segment_id=row.id, field=field, before=before, after=after,
                                         by=caller.key, by_name=caller.name, at=now))
        await audit.append(session, meeting_id, caller.actor, "transcript_correct", segment_id=row.id,
                           field=field, before=before, after=after)
    await session.flush()
    return (await _with_corrections(session, [row]))[0]

