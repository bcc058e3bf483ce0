"""The minutes' life: conclusions, versions with author and time, comments, signing, publishing.

Who may do what is the in-meeting table, meetings.control_common.PERMISSIONS (`minutes_*`):
the chair and the secretary enter conclusions and comment; the secretary drafts, edits, sends
for signing and publishes. Each signature is made by the meeting's own secretary and chair, in
that order, then the seal if asked. Every change is in the meeting's audit log, committed by the caller with the change.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.control_common import Caller, allow, clean_text, get_meeting
from meetings.control_models import AgendaItem
from meetings.meetings_service import MeetingError
from meetings.minutes.document import DocumentError, MinutesDocument, apply_edits
from meetings.minutes.drafting import draft
from meetings.minutes.record import load_record, load_segments
from meetings.minutes_models import (
    ItemConclusion,
    MinutesComment,
    MinutesSignature,
    MinutesSigning,
    MinutesVersion,
)
from meetings.models import utcnow

MAX_CONCLUSION = 10_000
MAX_COMMENT = 5_000
NEXT_STATE = {"secretary": "chair", "chair": "signed"}
def _canonical(doc: MinutesDocument) -> str:
    return json.dumps(doc.to_json(), ensure_ascii=False, sort_keys=True)


async def set_conclusion(session: AsyncSession, caller: Caller, meeting_id: int, item_id: int, text: str) -> None:
    allow(caller, "minutes_conclusion")
    await get_meeting(session, meeting_id)
    item = await session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting_id:
        raise MeetingError("not_found", f"no agenda item {item_id} in this meeting")
    text = clean_text(text, "text", MAX_CONCLUSION, required=False)
    row = await session.get(ItemConclusion, item_id)
    if row is None:
        row = ItemConclusion(item_id=item_id, meeting_id=meeting_id, text=text, author=caller.key)
        session.add(row)
    row.text, row.author, row.updated_at = text, caller.key, utcnow()
    await audit.append(session, meeting_id, caller.actor, "minutes_conclusion", item_id=item_id, text=text)


async def conclusions(session: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    """Every agenda item with its conclusion so far ("" when none)."""
    rows = (await session.execute(
        select(AgendaItem.id, AgendaItem.title, ItemConclusion.text)
        .outerjoin(ItemConclusion, ItemConclusion.item_id == AgendaItem.id)
        .where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position, AgendaItem.id)
    )).all()
    return [{"item_id": i, "title": t, "text": c or ""} for i, t, c in rows]


async def latest(session: AsyncSession, meeting_id: int) -> MinutesVersion | None:
    return (await session.execute(
        select(MinutesVersion).where(MinutesVersion.meeting_id == meeting_id)
        .order_by(MinutesVersion.number.desc()).limit(1)
    )).scalar_one_or_none()


def document(version: MinutesVersion) -> MinutesDocument:
    return MinutesDocument.from_json(json.loads(version.content))


async def _write(session: AsyncSession, caller: Caller, meeting_id: int, doc: MinutesDocument, action: str,
                 **details: Any) -> MinutesVersion:
    previous = await latest(session, meeting_id)
    if previous is not None and previous.frozen:
        await _cancel_signing(session, previous.id)
    version = MinutesVersion(
        meeting_id=meeting_id, number=(previous.number + 1) if previous else 1, author=caller.key,
        author_name=caller.name, created_at=utcnow(), content=_canonical(doc), frozen=False,
    )
    session.add(version)
    await session.flush()
    await audit.append(session, meeting_id, caller.actor, action, version=version.number, **details)
    return version


async def draft_from_record(session: AsyncSession, caller: Caller, meeting_id: int,
                            number: str | None = None) -> MinutesVersion:
    """A new version drafted afresh from the record (the first, or to start over)."""
    allow(caller, "minutes_edit")
    record = await load_record(session, meeting_id)
    doc = draft(record, await load_segments(session, meeting_id), number=number)
    return await _write(session, caller, meeting_id, doc, "minutes_draft")


def _stale(latest_number: int, base: int) -> MeetingError:
    """Someone saved a newer version than the one the secretary was looking at: nothing is overwritten."""
    return MeetingError("stale_version", f"version {latest_number} is the latest, not {base}: reload and edit again",
                        {"latest": latest_number, "base": base})


async def edit(session: AsyncSession, caller: Caller, meeting_id: int, base: int, edits: dict[str, Any]) -> MinutesVersion:
    """A new version from the latest with the secretary's edits; `base` must be that latest
    (someone else's newer version is never overwritten)."""
    allow(caller, "minutes_edit")
    current = await latest(session, meeting_id)
    if current is None:
        raise MeetingError("not_found", "no draft yet: draft the minutes from the record first")
    if current.number != base:
        raise _stale(current.number, base)
    try:
        doc = apply_edits(document(current), edits)
    except DocumentError as error:
        raise MeetingError("bad_request", str(error)) from None
    return await _write(session, caller, meeting_id, doc, "minutes_edit", fields=sorted(edits))


async def versions(session: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    rows = (await session.execute(
        select(MinutesVersion).where(MinutesVersion.meeting_id == meeting_id).order_by(MinutesVersion.number)
    )).scalars()
    return [{"number": v.number, "author": v.author_name, "created_at": v.created_at.isoformat(), "frozen": v.frozen}
            for v in rows]


async def version(session: AsyncSession, meeting_id: int, number: int) -> MinutesVersion:
    row = (await session.execute(
        select(MinutesVersion).where(MinutesVersion.meeting_id == meeting_id, MinutesVersion.number == number)
    )).scalar_one_or_none()
    if row is None:
        raise MeetingError("not_found", f"no version {number} of these minutes")
    return row


async def comment(session: AsyncSession, caller: Caller, meeting_id: int, number: int, text: str,
                  section_key: str | None = None) -> int:
    allow(caller, "minutes_comment")
    row = await version(session, meeting_id, number)
    text = clean_text(text, "text", MAX_COMMENT)
    if section_key is not None and section_key not in {s.key for s in document(row).sections}:
        raise MeetingError("bad_request", f"section: no section {section_key!r} in version {number}")
    entry = MinutesComment(version_id=row.id, section_key=section_key, author=caller.key, author_name=caller.name,
                           created_at=utcnow(), text=text)
    session.add(entry)
    await session.flush()
    await audit.append(session, meeting_id, caller.actor, "minutes_comment", version=number, section=section_key)
    return entry.id


async def comments(session: AsyncSession, meeting_id: int, number: int) -> list[dict[str, Any]]:
    row = await version(session, meeting_id, number)
    entries = (await session.execute(
        select(MinutesComment).where(MinutesComment.version_id == row.id).order_by(MinutesComment.id)
    )).scalars()
    return [{"id": c.id, "section": c.section_key, "author": c.author_name, "at": c.created_at.isoformat(),
             "text": c.text} for c in entries]


async def _cancel_signing(session: AsyncSession, version_id: int) -> None:
    signing = (await session.execute(
        select(MinutesSigning).where(MinutesSigning.version_id == version_id)
    )).scalar_one_or_none()
    if signing is not None and signing.state not in ("signed", "published"):
        signing.state = "cancelled"


async def send_for_signing(session: AsyncSession, caller: Caller, meeting_id: int, base: int, pdf_sha256: str,
                           with_seal: bool) -> MinutesSigning:
    """Freeze version `base` (the latest) with its rendered PDF; the secretary signs first."""
    allow(caller, "minutes_send")
    current = await latest(session, meeting_id)
    if current is None:
        raise MeetingError("not_found", "no draft yet: draft the minutes from the record first")
    if current.number != base:
        raise _stale(current.number, base)
    if current.frozen:
        raise MeetingError("conflict", f"version {base} is already frozen for signing")
    current.frozen = True
    signing = MinutesSigning(meeting_id=meeting_id, version_id=current.id, state="secretary", with_seal=with_seal,
                             pdf_sha256=pdf_sha256, created_at=utcnow())
    session.add(signing)
    await session.flush()
    await audit.append(session, meeting_id, caller.actor, "minutes_send", version=base, sha256=pdf_sha256,
                       with_seal=with_seal)
    return signing


async def active_signing(session: AsyncSession, meeting_id: int) -> MinutesSigning | None:
    current = await latest(session, meeting_id)
    if current is None or not current.frozen:
        return None
    return (await session.execute(
        select(MinutesSigning).where(MinutesSigning.version_id == current.id)
    )).scalar_one_or_none()


@dataclass(frozen=True)
class Turn:
    """Whose signature the minutes wait for now."""

    signing_id: int
    role: str  # secretary / chair / seal
    account_id: int | None  # None for the seal: any secretary or admin applies it
    pdf_sha256: str


async def signing_turn(session: AsyncSession, caller: Caller, meeting_id: int) -> Turn:
    """The signature `caller` may make now, or MeetingError saying why not."""
    meeting = await get_meeting(session, meeting_id)
    signing = await active_signing(session, meeting_id)
    if signing is None or signing.state in ("signed", "published", "cancelled"):
        raise MeetingError("conflict", "no minutes are waiting for a signature")
    role = signing.state
    expected = {"secretary": meeting.secretary_id, "chair": meeting.chair_id}.get(role)
    if role == "seal":
        allow(caller, "minutes_seal")
    elif caller.account_id != expected:
        raise MeetingError("forbidden", f"the minutes wait for the {role}'s signature")
    return Turn(signing.id, role, expected, signing.pdf_sha256)


async def record_signature(session: AsyncSession, caller: Caller, meeting_id: int, turn: Turn, signer_name: str,
                           key_kind: str, pdf_sha256: str) -> MinutesSigning:
    """Store a signature made on `turn.pdf_sha256`; refuses if the minutes moved on meanwhile."""
    signing = await session.get(MinutesSigning, turn.signing_id)
    if signing is None or signing.state != turn.role or signing.pdf_sha256 != turn.pdf_sha256:
        raise MeetingError("conflict", "the minutes changed while signing: sign the current file again")
    session.add(MinutesSignature(signing_id=signing.id, role=turn.role, account_id=caller.account_id,
                                 signer_name=signer_name, key_kind=key_kind, signed_at=utcnow(), pdf_sha256=pdf_sha256))
    following = NEXT_STATE.get(turn.role, "signed")
    if turn.role == "chair" and signing.with_seal:
        following = "seal"
    signing.state, signing.pdf_sha256 = following, pdf_sha256
    await audit.append(session, meeting_id, caller.actor, "minutes_sign", role=turn.role, signer=signer_name,
                       key_kind=key_kind, sha256=pdf_sha256)
    return signing


async def publish(session: AsyncSession, caller: Caller, meeting_id: int) -> MinutesSigning:
    allow(caller, "minutes_send")
    signing = await active_signing(session, meeting_id)
    if signing is None or signing.state != "signed":
        raise MeetingError("conflict", "only fully signed minutes can be published")
    signing.state, signing.published_at = "published", utcnow()
    await audit.append(session, meeting_id, caller.actor, "minutes_publish", sha256=signing.pdf_sha256)
    return signing


async def published(session: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    rows = (await session.execute(
        select(MinutesSigning, MinutesVersion.number).join(MinutesVersion, MinutesVersion.id == MinutesSigning.version_id)
        .where(MinutesSigning.meeting_id == meeting_id, MinutesSigning.state == "published")
        .order_by(MinutesSigning.published_at)
    )).all()
    return [{"version": n, "sha256": s.pdf_sha256, "published_at": s.published_at.isoformat() if s.published_at else None}
            for s, n in rows]
