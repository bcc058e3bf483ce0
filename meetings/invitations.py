"""Invitations by e-mail: a Vietnamese message with an iCalendar (RFC 5545) attachment.

When a meeting is scheduled, changed or cancelled, `queue` adds one row per invited person with
an address to `mail_outbox` (superseding rows of that meeting not yet sent). Messages are built
when sent (web/mailer.py, in an executor) from the meeting as it is then, so a calendar always
receives the latest version: METHOD:REQUEST with the meeting's stable UID and its SEQUENCE
(0 when scheduled, +1 per change), METHOD:CANCEL once cancelled, and to each person taken off
the list after an invitation reached them (RFC 5546: the organizer cancels for that attendee,
so the event leaves their calendar); times carry
TZID=Asia/Ho_Chi_Minh with its VTIMEZONE. Failures are retried after `retry_seconds`, then the
row stays `failed` and the meeting page says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime as format_datetime_header
from email.utils import formataddr, make_msgid, parseaddr

import icalendar
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.admin_models import OutgoingMail
from meetings.localtime import LOCAL_ZONE, format_datetime, format_time
from meetings.meeting_details import MeetingDetails, Person
from meetings.models import Meeting

PRODID = "-//hoinghi//Hội nghị truyền hình//VI"
MAX_ERROR = 500


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    sent: int
    failed: int
    last_error: str


async def queue(session: AsyncSession, details: MeetingDetails, now: datetime) -> int:
    """Queue the invitation of the meeting's current version to every invitee with an address
    (not committed: the caller commits it with the change). Returns the messages queued."""
    kind = "cancel" if details.status == "cancelled" else "request"
    await session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.meeting_id == details.id, OutgoingMail.state == "pending")
        .values(state="superseded")
    )
    addressed = [(person.id, person.email, kind) for person in details.invitees() if person.email]
    addressed += [(account_id, recipient, "cancel") for account_id, recipient in await _withdrawn(session, details)]
    for account_id, recipient, row_kind in addressed:
        session.add(OutgoingMail(
            meeting_id=details.id, account_id=account_id, recipient=recipient, kind=row_kind,
            sequence=details.ical_sequence, message="", state="pending", attempts=0, next_attempt_at=now,
            last_error="", created_at=now,
        ))
    return len(addressed)


async def _withdrawn(session: AsyncSession, details: MeetingDetails) -> list[tuple[int, str]]:
    """(account, address) of people no longer invited whose last message of this meeting that
    went out was an invitation: their calendars still hold the meeting."""
    invited = {person.id for person in details.invitees()}
    last_sent: dict[int, OutgoingMail] = {}
    for row in (await session.execute(
        select(OutgoingMail).where(OutgoingMail.meeting_id == details.id, OutgoingMail.state == "sent")
        .order_by(OutgoingMail.id)
    )).scalars():
        last_sent[row.account_id] = row
    return [(account_id, row.recipient) for account_id, row in last_sent.items()
            if account_id not in invited and row.kind == "request"]


async def status(session: AsyncSession, meeting_id: int) -> OutboxStatus:
    counts = dict(
        (await session.execute(
            select(OutgoingMail.state, func.count()).where(OutgoingMail.meeting_id == meeting_id).group_by(OutgoingMail.state)
        )).all()
    )
    last = (await session.execute(
        select(OutgoingMail.last_error)
        .where(OutgoingMail.meeting_id == meeting_id, OutgoingMail.state == "failed")
        .order_by(OutgoingMail.id.desc()).limit(1)
    )).scalar_one_or_none()
    return OutboxStatus(counts.get("pending", 0), counts.get("sent", 0), counts.get("failed", 0), last or "")


async def due(session: AsyncSession, now: datetime, limit: int = 20) -> list[OutgoingMail]:
    rows = await session.execute(
        select(OutgoingMail)
        .where(OutgoingMail.state == "pending", OutgoingMail.next_attempt_at <= now)
        .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def next_due_at(session: AsyncSession) -> datetime | None:
    return (await session.execute(
        select(func.min(OutgoingMail.next_attempt_at)).where(OutgoingMail.state == "pending")
    )).scalar_one_or_none()


async def is_current(session: AsyncSession, row: OutgoingMail) -> bool:
    """False when the meeting changed again after this row was queued (a newer row replaces it)."""
    meeting = await session.get(Meeting, row.meeting_id)
    return meeting is not None and meeting.ical_sequence == row.sequence


def record_sent(row: OutgoingMail, message: str, now: datetime) -> None:
    row.state, row.message, row.sent_at, row.attempts = "sent", message, now, row.attempts + 1


def record_failure(row: OutgoingMail, error: str, now: datetime, retry_seconds: tuple[int, ...]) -> None:
    """Wait retry_seconds[attempt] before the next attempt; after the last wait, give up."""
    row.attempts += 1
    row.last_error = error[:MAX_ERROR]
    if row.attempts > len(retry_seconds):
        row.state = "failed"
    else:
        row.next_attempt_at = now + timedelta(seconds=retry_seconds[row.attempts - 1])


# ------------------------------------------------------------------ building a message (CPU work)

def _calendar(details: MeetingDetails, person: Person, sender: str, page_url: str, now: datetime, cancel: bool) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancel else "REQUEST")
    event = icalendar.Event()
    event.add("uid", details.ical_uid or f"meeting-{details.id}@hoinghi")
    event.add("sequence", details.ical_sequence)
    event.add("dtstamp", now)
    event.add("dtstart", details.start.astimezone(LOCAL_ZONE))
    event.add("dtend", (details.end or details.start + timedelta(hours=2)).astimezone(LOCAL_ZONE))
    event.add("summary", details.title)
    event.add("location", details.location or details.room_name)
    event.add("description", _agenda_text(details))
    event.add("url", page_url)
    event.add("status", "CANCELLED" if cancel else "CONFIRMED")
    organizer = icalendar.vCalAddress(f"mailto:{parseaddr(sender)[1]}")
    organizer.params["cn"] = icalendar.vText(details.secretary.name or parseaddr(sender)[0])
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress(f"mailto:{person.email}")
    attendee.params["cn"] = icalendar.vText(person.name)
    attendee.params["role"] = icalendar.vText("CHAIR" if person.id == details.chair.id else "REQ-PARTICIPANT")
    attendee.params["partstat"] = icalendar.vText("NEEDS-ACTION")
    event.add("attendee", attendee)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _agenda_text(details: MeetingDetails) -> str:
    lines = []
    for n, item in enumerate(details.agenda, start=1):
        extra = ", ".join(x for x in (item["presenter"], f"{item['planned_minutes']} phút" if item["planned_minutes"] else "") if x)
        lines.append(f"{n}. {item['title']}" + (f" ({extra})" if extra else ""))
    return "\n".join(lines)


def _body(details: MeetingDetails, person: Person, page_url: str, withdrawn: bool) -> tuple[str, str]:
    when = format_datetime(details.start)
    until = f" đến {format_time(details.end)}" if details.end else ""
    place = details.location or details.room_name
    if withdrawn and details.status != "cancelled":
        subject = f"Điều chỉnh thành phần mời họp: {details.title}"
        text = [
            f"Kính gửi {person.name},", "",
            f"Thành phần tham dự cuộc họp “{details.title}” vào {when} tại {place} đã được điều chỉnh:",
            "Anh/Chị không còn trong danh sách được mời. Xin bỏ qua giấy mời đã gửi trước đây.", "",
        ]
    elif details.status == "cancelled":
        subject = f"Hủy cuộc họp: {details.title}"
        text = [
            f"Kính gửi {person.name},", "",
            f"Cuộc họp “{details.title}” dự kiến vào {when} tại {place} đã bị hủy.",
            f"Lý do: {details.cancel_reason}", "",
        ]
    else:
        changed = details.ical_sequence > 0
        subject = f"{'Thay đổi giấy mời' if changed else 'Giấy mời họp'}: {details.title}"
        text = [
            f"Kính gửi {person.name},", "",
            ("Thông tin cuộc họp đã được cập nhật:" if changed else "Trân trọng kính mời tham dự cuộc họp:"),
            f"    {details.title}",
            f"Thời gian: {when}{until}",
            f"Địa điểm: {place}",
            f"Chủ trì: {details.chair.name}" + (f", {details.chair.position}" if details.chair.position else ""),
        ]
        agenda = _agenda_text(details)
        if agenda:
            text += ["", "Chương trình:", agenda]
        text += ["", f"Vào họp và xem tài liệu: {page_url}", ""]
    text += [f"Thư ký: {details.secretary.name}", "", "(Thư gửi tự động từ hệ thống hội nghị truyền hình.)"]
    return subject, "\n".join(text)


def build_message(details: MeetingDetails, person: Person, sender: str, page_url: str, now: datetime,
                  withdrawn: bool = False) -> EmailMessage:
    """The whole e-mail for one invitee, or for someone taken off the list (`withdrawn`): text in
    Vietnamese and the .ics (CPU work: run off the loop)."""
    subject, text = _body(details, person, page_url, withdrawn)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = formataddr((person.name, person.email or ""))
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "hoinghi")
    message["Date"] = format_datetime_header(now.astimezone(LOCAL_ZONE))
    message.set_content(text)
    cancel = withdrawn or details.status == "cancelled"
    message.add_attachment(
        _calendar(details, person, sender, page_url, now, cancel), maintype="text", subtype="calendar",
        params={"method": "CANCEL" if cancel else "REQUEST"}, filename="cuoc-hop.ics",
    )
    return message
