"""Request and response bodies of the REST API (pydantic v2); the OpenAPI document's schemas
are generated from these classes (web/api/openapi.py), so what is documented is what runs."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from meetings.models import ACCOUNT_ROLES, MEETING_STATES
from meetings import scheduling

Role = Literal["chair", "secretary", "delegate", "operator", "observer", "admin"]
Status = Literal["scheduled", "open", "closed", "cancelled"]
assert set(Role.__args__) == set(ACCOUNT_ROLES) and set(Status.__args__) == set(MEETING_STATES)  # type: ignore[attr-defined]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- errors and plain answers

class FieldProblemOut(Model):
    field: str = Field(description='The invalid field, as a path into the body: "title", "agenda.0.title"')
    code: str = Field(description="What is wrong (required, too_long, start_in_past, …); see docs/api.md")
    params: dict[str, Any] = Field(default_factory=dict, description="Values the message is built from")
    message: str = Field(description="The problem in the caller's language")


class ErrorOut(Model):
    ok: Literal[False] = False
    error: str = Field(description="Error code: login_required, forbidden, not_found, invalid, not_scheduled, …")
    message: str = Field(description="The error in the caller's language (Vietnamese unless lang=en)")
    params: dict[str, Any] = Field(default_factory=dict)
    fields: list[FieldProblemOut] = Field(default_factory=list, description="Every invalid field (error `invalid`)")


class OkOut(Model):
    ok: Literal[True] = True


# ---------------------------------------------------------------- login and the caller

class LoginIn(Model):
    username: str = Field(max_length=64, examples=["thuky"])
    password: str = Field(max_length=200, examples=["mat-khau-cua-ban"])


class LoginOut(Model):
    ok: Literal[True] = True
    name: str
    role: Role
    csrf_token: str = Field(description="Send as X-CSRF-Token with multipart uploads")


class MeOut(Model):
    ok: Literal[True] = True
    id: int
    username: str
    name: str
    role: Role
    email: str | None
    position: str
    unit: str
    must_change_password: bool
    csrf_token: str
    allowed_actions: list[str] = Field(description="Actions of web/permissions.py this account may perform")


class OwnPasswordIn(Model):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


# ---------------------------------------------------------------- meetings

class AgendaItemIn(Model):
    id: int | None = Field(default=None, description="An existing item's id when editing (keeps its documents)")
    title: str = Field(max_length=scheduling.MAX_AGENDA_TITLE, examples=["Báo cáo tình hình kinh tế - xã hội tháng 11"])
    presenter: str = Field(default="", max_length=scheduling.MAX_PRESENTER, examples=["Sở Kế hoạch và Đầu tư"])
    planned_minutes: int | None = Field(default=None, ge=1, le=scheduling.MAX_PLANNED_MINUTES, examples=[30])


class DelegateIn(Model):
    account_id: int
    point_id: str | None = Field(default=None, description="The bridge point where the delegate sits; null: own browser")


class MeetingIn(Model):
    title: str = Field(max_length=scheduling.MAX_TITLE, examples=["Giao ban UBND tỉnh tháng 12/2026"])
    room_id: str = Field(max_length=63, examples=["phong-hop-ubnd"])
    start: AwareDatetime = Field(description="With its offset, e.g. 2026-12-08T14:00:00+07:00")
    end: AwareDatetime = Field(description="Planned end, after the start")
    location: str = Field(default="", max_length=scheduling.MAX_LOCATION)
    chair_id: int
    secretary_id: int
    point_ids: list[str] | None = Field(default=None, description="Invited bridge points; null: the room's default points")
    delegates: list[DelegateIn] = Field(default_factory=list)
    members_total: int | None = Field(default=None, ge=1, le=scheduling.MAX_MEMBERS, description="Members of the body (quorum)")
    agenda: list[AgendaItemIn] = Field(default_factory=list, max_length=scheduling.MAX_AGENDA_ITEMS)


class CancelIn(Model):
    reason: str = Field(max_length=scheduling.MAX_REASON, examples=["Trùng lịch họp Ban Thường vụ Tỉnh ủy"])


class CopyIn(Model):
    start: AwareDatetime | None = Field(default=None, description="Default: same weekday and time, the next week to come")
    end: AwareDatetime | None = None


class PersonOut(Model):
    id: int
    name: str
    position: str
    unit: str


class PointRefOut(Model):
    id: str
    name: str
    level: Literal["province", "district", "commune"]
    role: Literal["main", "end"]


class DelegateOut(Model):
    account: PersonOut
    point_id: str | None


class DocumentOut(Model):
    id: int
    filename: str
    size: int
    sha256: str
    url: str


class AgendaItemOut(Model):
    id: int
    position: int
    title: str
    presenter: str
    planned_minutes: int | None
    state: Literal["pending", "current", "done"]
    documents: list[DocumentOut]


class InvitationsOut(Model):
    mail_configured: bool
    pending: int
    sent: int
    failed: int
    last_error: str


class MeetingOut(Model):
    id: int
    title: str
    room_id: str
    room_name: str
    status: Status
    start: datetime
    end: datetime | None
    start_text: str = Field(description='Local time as people read it: "14:00, thứ Ba 08/12/2026"')
    location: str
    chair: PersonOut
    secretary: PersonOut
    points: list[PointRefOut]
    delegates: list[DelegateOut]
    members_total: int | None
    agenda: list[AgendaItemOut]
    cancel_reason: str
    ical_uid: str | None
    ical_sequence: int
    invitations: InvitationsOut | None = Field(description="For administrators and secretaries only")
    page_url: str


class MeetingResponse(Model):
    ok: Literal[True] = True
    meeting: MeetingOut


class MeetingSummaryOut(Model):
    id: int
    title: str
    room_name: str
    status: Status
    start: datetime
    end: datetime | None
    start_text: str
    location: str
    cancel_reason: str
    joinable: bool = Field(description="Open, or starting within 30 minutes")
    page_url: str


class MeetingListQuery(Model):
    page: int = Field(default=1, ge=1, le=100_000, description="Page of past meetings")


class MeetingListOut(Model):
    ok: Literal[True] = True
    upcoming: list[MeetingSummaryOut] = Field(description="Open, today's and later meetings, soonest first")
    past: list[MeetingSummaryOut] = Field(description="Earlier meetings, latest first, one page")
    page: int
    pages: int


class RoomOut(Model):
    id: str
    name: str
    point_ids: list[str] = Field(description="The points invited by default")


class RoomsOut(Model):
    ok: Literal[True] = True
    rooms: list[RoomOut]


class DocumentUploadOut(Model):
    ok: Literal[True] = True
    document: DocumentOut


# ---------------------------------------------------------------- accounts

class AccountOut(Model):
    id: int
    username: str
    display_name: str
    role: Role
    email: str | None
    position: str
    unit: str
    disabled: bool
    must_change_password: bool


class AccountListQuery(Model):
    q: str = Field(default="", max_length=200, description="Part of a username, name, position, unit or e-mail; accents ignored")


class AccountsOut(Model):
    ok: Literal[True] = True
    accounts: list[AccountOut]


class AccountCreateIn(Model):
    username: str = Field(max_length=64, examples=["nguyenvana"])
    display_name: str = Field(max_length=200, examples=["Nguyễn Văn A"])
    role: Role
    email: str | None = Field(default=None, max_length=254, examples=["nva@stc.quangninh.gov.vn"])
    position: str = Field(default="", max_length=200, examples=["Giám đốc Sở Tài chính"])
    unit: str = Field(default="", max_length=200, examples=["Sở Tài chính"])


class AccountCreatedOut(Model):
    ok: Literal[True] = True
    account: AccountOut
    one_time_password: str = Field(description="Shown once; the account must change it at its first login")


class AccountPatchIn(Model):
    role: Role | None = None
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254, description='"" removes the address')
    position: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=200)
    active: bool | None = Field(default=None, description="false deactivates: every session and socket ends at once")


class AccountResponse(Model):
    ok: Literal[True] = True
    account: AccountOut


class PasswordResetOut(Model):
    ok: Literal[True] = True
    one_time_password: str = Field(description="Shown once; a change is forced at the next login")


# ---------------------------------------------------------------- bridge points

class PointOut(Model):
    id: str
    name: str
    level: Literal["province", "district", "commune"]
    role: Literal["main", "end"]
    address: str
    token_in_config: bool = Field(description="rooms.toml has a token_hash for it (not revoked)")
    token_issued: bool = Field(description="A token was issued from the web")
    last_seen_at: datetime | None


class PointsOut(Model):
    ok: Literal[True] = True
    points: list[PointOut]


class PointTokenOut(Model):
    ok: Literal[True] = True
    point_id: str
    token: str = Field(description="Shown once; only its hash is stored")
