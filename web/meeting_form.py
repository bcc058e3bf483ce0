"""The meeting form: HTML fields to a `MeetingDraft` and back, with every problem beside its field.

Repeated rows (agenda items, delegates) arrive as parallel lists (`agenda_title`, `agenda_file`,
…). Empty rows are dropped before validation, and the form is shown again with the kept rows,
so a problem's index ("agenda.2.title") is the row the reader sees. Times are typed in Hà Nội
time (datetime-local inputs) and stored in UTC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from meetings.localtime import LOCAL_ZONE, local
from meetings.scheduling import AgendaDraft, DelegateDraft, FieldProblem, MeetingDraft

MAX_PDF_BYTES = 50 * 1024 * 1024
EMPTY_AGENDA_ROWS = 2
EMPTY_DELEGATE_ROWS = 2


@dataclass
class Upload:
    filename: str
    data: bytes


@dataclass
class ParsedForm:
    draft: MeetingDraft
    files: dict[int, Upload]  # agenda index -> its PDF
    problems: list[FieldProblem] = field(default_factory=list)
    room_default: bool = False  # no point was ticked: the room's points


def _datetime(value: str, name: str, problems: list[FieldProblem]) -> datetime | None:
    if not value.strip():
        problems.append(FieldProblem(name, "required"))
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=LOCAL_ZONE)
    except ValueError:
        problems.append(FieldProblem(name, "invalid_datetime"))
        return None


def _int(value: str, name: str, problems: list[FieldProblem], *, required: bool) -> int | None:
    if not value.strip():
        if required:
            problems.append(FieldProblem(name, "required"))
        return None
    try:
        return int(value.strip())
    except ValueError:
        problems.append(FieldProblem(name, "invalid_value"))
        return None


def _strings(form: MultiDictProxy[Any], name: str) -> list[str]:
    return [v if isinstance(v, str) else "" for v in form.getall(name, [])]


def parse(form: MultiDictProxy[Any]) -> ParsedForm:
    problems: list[FieldProblem] = []
    text = {name: form.get(name, "") if isinstance(form.get(name, ""), str) else "" for name in (
        "title", "room_id", "start", "end", "location", "chair_id", "secretary_id", "members_total")}
    ids, titles, presenters, minutes = (_strings(form, f"agenda_{n}") for n in ("id", "title", "presenter", "minutes"))
    raw_files = form.getall("agenda_file", [])
    agenda: list[AgendaDraft] = []
    files: dict[int, Upload] = {}
    for row, title in enumerate(titles):
        upload = raw_files[row] if row < len(raw_files) else ""
        has_file = isinstance(upload, web.FileField) and bool(upload.filename)
        item_id = ids[row] if row < len(ids) else ""
        if not title.strip() and not item_id and not has_file:
            continue  # an empty row
        n = len(agenda)
        agenda.append(AgendaDraft(
            title=title, presenter=presenters[row] if row < len(presenters) else "",
            planned_minutes=_int(minutes[row] if row < len(minutes) else "", f"agenda.{n}.planned_minutes", problems, required=False),
            id=_int(item_id, f"agenda.{n}", problems, required=False),
        ))
        if has_file:
            data = upload.file.read(MAX_PDF_BYTES + 1)  # type: ignore[union-attr]
            if len(data) > MAX_PDF_BYTES:
                problems.append(FieldProblem(f"agenda.{n}.file", "file_too_large", {"max_mb": MAX_PDF_BYTES // 2**20}))
            elif not data.startswith(b"%PDF-"):
                problems.append(FieldProblem(f"agenda.{n}.file", "not_pdf", {"filename": upload.filename}))  # type: ignore[union-attr]
            else:
                files[n] = Upload(upload.filename, data)  # type: ignore[union-attr]
    delegates: list[DelegateDraft] = []
    for account, point in zip(_strings(form, "delegate_account"), _strings(form, "delegate_point")):
        if not account.strip():
            continue
        account_id = _int(account, f"delegates.{len(delegates)}", problems, required=True)
        if account_id is not None:
            delegates.append(DelegateDraft(account_id, point.strip() or None))
    point_ids = tuple(p for p in _strings(form, "point_ids") if p)
    draft = MeetingDraft(
        title=text["title"], room_id=text["room_id"].strip(),
        start=_datetime(text["start"], "start", problems), end=_datetime(text["end"], "end", problems),
        chair_id=_int(text["chair_id"], "chair_id", problems, required=True),
        secretary_id=_int(text["secretary_id"], "secretary_id", problems, required=True),
        location=text["location"], point_ids=point_ids or None, delegates=tuple(delegates),
        members_total=_int(text["members_total"], "members_total", problems, required=False),
        agenda=tuple(agenda),
    )
    return ParsedForm(draft, files, problems, room_default=not point_ids)


def _local_input(moment: datetime | None) -> str:
    return local(moment).strftime("%Y-%m-%dT%H:%M") if moment is not None else ""


def form_values(draft: MeetingDraft, room_points: dict[str, list[str]]) -> dict[str, Any]:
    """What the template fills the inputs with; points default to the room's."""
    points = list(draft.point_ids) if draft.point_ids is not None else room_points.get(draft.room_id, [])
    return {
        "title": draft.title, "room_id": draft.room_id, "start": _local_input(draft.start), "end": _local_input(draft.end),
        "location": draft.location, "chair_id": draft.chair_id, "secretary_id": draft.secretary_id,
        "members_total": "" if draft.members_total is None else draft.members_total, "point_ids": set(points),
        "agenda": [
            {"id": a.id or "", "title": a.title, "presenter": a.presenter, "minutes": a.planned_minutes or ""}
            for a in draft.agenda
        ] + [{"id": "", "title": "", "presenter": "", "minutes": ""}] * EMPTY_AGENDA_ROWS,
        "delegates": [{"account_id": d.account_id, "point_id": d.point_id or ""} for d in draft.delegates]
        + [{"account_id": "", "point_id": ""}] * EMPTY_DELEGATE_ROWS,
    }


def empty_draft(secretary_id: int | None = None) -> MeetingDraft:
    """A new meeting's form; a secretary who opens it is its secretary unless she picks another."""
    return MeetingDraft(title="", room_id="", start=None, end=None, chair_id=None, secretary_id=secretary_id)
