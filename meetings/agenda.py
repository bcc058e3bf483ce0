"""Agenda: ordered items with title, presenter, planned duration and attached PDF documents."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import audit
from meetings.control_common import Caller, allow, clean_text, get_meeting
from meetings.control_models import AgendaDocument, AgendaItem
from meetings.meetings_service import MeetingError
from meetings.models import utcnow

MAX_ITEMS = 200
MAX_PLANNED_MINUTES = 24 * 60


async def _items(session: AsyncSession, meeting_id: int) -> list[AgendaItem]:
    return list(
        (
            await session.execute(
                select(AgendaItem).where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position, AgendaItem.id)
            )
        ).scalars()
    )


async def _item(session: AsyncSession, meeting_id: int, item_id: int) -> AgendaItem:
    item = await session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting_id:
        raise MeetingError("not_found", f"no agenda item {item_id} in this meeting")
    return item


def _minutes(value: int | None) -> int | None:
    if value is not None and not 0 < value <= MAX_PLANNED_MINUTES:
        raise MeetingError("bad_request", f"planned_minutes: between 1 and {MAX_PLANNED_MINUTES}")
    return value


async def snapshot(session: AsyncSession, meeting_id: int) -> dict[str, Any]:
    items = await _items(session, meeting_id)
    docs: dict[int, list[dict[str, Any]]] = {}
    if items:
        rows = await session.execute(
            select(AgendaDocument).where(AgendaDocument.item_id.in_([i.id for i in items])).order_by(AgendaDocument.id)
        )
        for d in rows.scalars():
            docs.setdefault(d.item_id, []).append(
                {"id": d.id, "filename": d.filename, "sha256": d.sha256, "size": d.size, "url": f"/api/documents/{d.id}"}
            )
    current = next((i.id for i in items if i.state == "current"), None)
    return {
        "meeting_id": meeting_id,
        "current_item_id": current,
        "items": [
            {
                "id": i.id, "position": n, "title": i.title, "presenter": i.presenter,
                "planned_minutes": i.planned_minutes, "state": i.state,
                "started_at": i.started_at.isoformat() if i.started_at else None,
                "documents": docs.get(i.id, []),
            }
            for n, i in enumerate(items, start=1)
        ],
    }


async def add_item(
    session: AsyncSession, caller: Caller, meeting_id: int, title: str, presenter: str = "",
    planned_minutes: int | None = None,
) -> int:
    allow(caller, "agenda_add")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    title = clean_text(title, "title", 500)
    presenter = clean_text(presenter, "presenter", 200, required=False)
    items = await _items(session, meeting_id)
    if len(items) >= MAX_ITEMS:
        raise MeetingError("conflict", f"an agenda has at most {MAX_ITEMS} items")
    item = AgendaItem(
        meeting_id=meeting_id, position=(items[-1].position + 1) if items else 1, title=title,
        presenter=presenter, planned_minutes=_minutes(planned_minutes), state="pending",
    )
    session.add(item)
    await session.flush()
    await audit.append(session, meeting_id, caller.actor, "agenda_add", item_id=item.id, title=title,
                       presenter=presenter, planned_minutes=planned_minutes)
    return item.id


async def update_item(
    session: AsyncSession, caller: Caller, meeting_id: int, item_id: int, *, title: str | None = None,
    presenter: str | None = None, planned_minutes: int | None = None,
) -> None:
    allow(caller, "agenda_update")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    item = await _item(session, meeting_id, item_id)
    if item.state == "done":
        raise MeetingError("conflict", "a finished item cannot be changed")
    changes: dict[str, Any] = {}
    if title is not None:
        item.title = changes["title"] = clean_text(title, "title", 500)
    if presenter is not None:
        item.presenter = changes["presenter"] = clean_text(presenter, "presenter", 200, required=False)
    if planned_minutes is not None:
        item.planned_minutes = changes["planned_minutes"] = _minutes(planned_minutes)
    if not changes:
        raise MeetingError("bad_request", "nothing to change")
    await audit.append(session, meeting_id, caller.actor, "agenda_update", item_id=item_id, **changes)


async def remove_item(session: AsyncSession, caller: Caller, meeting_id: int, item_id: int) -> None:
    allow(caller, "agenda_remove")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    item = await _item(session, meeting_id, item_id)
    if item.state != "pending":
        raise MeetingError("conflict", "only an item not yet discussed can be removed")
    await session.delete(item)
    await audit.append(session, meeting_id, caller.actor, "agenda_remove", item_id=item_id, title=item.title)


async def reorder(session: AsyncSession, caller: Caller, meeting_id: int, order: list[int]) -> None:
    allow(caller, "agenda_reorder")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    items = await _items(session, meeting_id)
    if sorted(order) != sorted(i.id for i in items) or len(set(order)) != len(order):
        raise MeetingError("bad_request", "order: must list every item of the agenda exactly once")
    by_id = {i.id: i for i in items}
    for position, item_id in enumerate(order, start=1):
        by_id[item_id].position = position
    await audit.append(session, meeting_id, caller.actor, "agenda_reorder", order=order)


async def set_current(session: AsyncSession, caller: Caller, meeting_id: int, item_id: int | None) -> None:
    """Move the meeting to an item (the previous current item is done); None ends the current item."""
    allow(caller, "agenda_set_current")
    await get_meeting(session, meeting_id, states=("open",))
    items = await _items(session, meeting_id)
    target = None
    if item_id is not None:
        target = next((i for i in items if i.id == item_id), None)
        if target is None:
            raise MeetingError("not_found", f"no agenda item {item_id} in this meeting")
        if target.state == "current":
            raise MeetingError("conflict", "this item is already the current one")
    now = utcnow()
    for item in items:
        if item.state == "current":
            item.state, item.ended_at = "done", now
    if target is not None:
        target.state, target.started_at, target.ended_at = "current", now, None
    await audit.append(session, meeting_id, caller.actor, "agenda_set_current", item_id=item_id)


async def current_item_id(session: AsyncSession, meeting_id: int) -> int | None:
    return (
        await session.execute(
            select(AgendaItem.id).where(AgendaItem.meeting_id == meeting_id, AgendaItem.state == "current")
        )
    ).scalar_one_or_none()


async def finish_current(session: AsyncSession, meeting_id: int) -> None:
    now = utcnow()
    for item in await _items(session, meeting_id):
        if item.state == "current":
            item.state, item.ended_at = "done", now


async def add_document(
    session: AsyncSession, caller: Caller, meeting_id: int, item_id: int, filename: str, sha256: str, size: int
) -> int:
    allow(caller, "document_upload")
    await get_meeting(session, meeting_id, states=("scheduled", "open"))
    await _item(session, meeting_id, item_id)
    filename = clean_text(filename.replace("/", "_").replace("\\", "_"), "filename", 255)
    doc = AgendaDocument(item_id=item_id, filename=filename, sha256=sha256, size=size, uploaded_by=caller.key)
    session.add(doc)
    await session.flush()
    await audit.append(session, meeting_id, caller.actor, "document_upload", item_id=item_id, document_id=doc.id,
                       filename=filename, sha256=sha256, size=size)
    return doc.id


async def document(session: AsyncSession, document_id: int) -> tuple[AgendaDocument, int] | None:
    """A document and the meeting it belongs to."""
    row = (
        await session.execute(
            select(AgendaDocument, AgendaItem.meeting_id)
            .join(AgendaItem, AgendaItem.id == AgendaDocument.item_id)
            .where(AgendaDocument.id == document_id)
        )
    ).first()
    return (row[0], row[1]) if row else None
