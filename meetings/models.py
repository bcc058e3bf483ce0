"""SQLAlchemy models. Schema changes go through an Alembic migration in meetings/migrations."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ACCOUNT_ROLES = ("chair", "secretary", "delegate", "operator", "observer", "admin")
MEETING_STATES = ("scheduled", "open", "closed", "cancelled")

# Named constraints let Alembic alter tables on SQLite (batch mode) and PostgreSQL alike.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware on both engines: stored as UTC, and SQLite's naive values get UTC back."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: hoinghi stores only timezone-aware times")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class ProvinceRow(Base):
    __tablename__ = "province"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(200))


class BridgePoint(Base):
    """A configured conference room (điểm cầu); mirrored from rooms.toml at start-up."""

    __tablename__ = "bridge_point"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    province_id: Mapped[str] = mapped_column(ForeignKey("province.id"))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(300), default="")
    token_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # False when the point was removed from rooms.toml: history keeps referring to it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)  # its session last used
    __table_args__ = (
        CheckConstraint("level in ('province', 'district', 'commune')", name="level"),
        CheckConstraint("role in ('main', 'end')", name="role"),
    )


class RevokedPointToken(Base):
    """A token hash that must never log in again, even if rooms.toml still lists it."""

    __tablename__ = "revoked_point_token"
    token_hash: Mapped[str] = mapped_column(String(80), primary_key=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("bridge_point.id"))
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Account(Base):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)  # invitations go here
    position: Mapped[str] = mapped_column(String(200), default="")  # chức vụ, printed in the minutes
    unit: Mapped[str] = mapped_column(String(200), default="")  # đơn vị (agency or department)
    # Set by an admin's password reset: the one-time password must be replaced at the next login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        CheckConstraint(
            "role in ('chair', 'secretary', 'delegate', 'operator', 'observer', 'admin')", name="role"
        ),
    )


class AuthSession(Base):
    """A logged-in browser or bridge point. Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "auth_session"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), nullable=True)
    point_id: Mapped[str | None] = mapped_column(ForeignKey("bridge_point.id"), nullable=True)
    point_token_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    __table_args__ = (
        CheckConstraint("(account_id IS NULL) <> (point_id IS NULL)", name="one_principal"),
    )


class MeetingRoom(Base):
    """A virtual meeting room from rooms.toml, with the bridge points it invites by default."""

    __tablename__ = "meeting_room"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class MeetingRoomPoint(Base):
    __tablename__ = "meeting_room_point"
    room_id: Mapped[str] = mapped_column(ForeignKey("meeting_room.id", ondelete="CASCADE"), primary_key=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("bridge_point.id"), primary_key=True)


class Meeting(Base):
    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("meeting_room.id"))
    title: Mapped[str] = mapped_column(String(300))
    scheduled_start: Mapped[datetime] = mapped_column(UtcDateTime())
    location: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    chair_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    secretary_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Scheduling (meetings/scheduling.py): planned end, cancellation, and the iCalendar identity
    # of the invitation (RFC 5545: a stable UID, a SEQUENCE that grows with every change).
    scheduled_end: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ical_uid: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    ical_sequence: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (CheckConstraint("status in ('scheduled', 'open', 'closed', 'cancelled')", name="status"),)


class MeetingPoint(Base):
    """A bridge point invited to a meeting, with the head-count its operator reports."""

    __tablename__ = "meeting_point"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("bridge_point.id"), primary_key=True)
    headcount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    headcount_reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    connected: Mapped[bool] = mapped_column(Boolean, default=False)


class Participant(Base):
    """An invited delegate (or a browser guest admitted from the lobby) and their presence."""

    __tablename__ = "participant"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    # The bridge point a delegate sits at; None for someone joining from their own browser.
    point_id: Mapped[str | None] = mapped_column(ForeignKey("bridge_point.id"), nullable=True)
    invited: Mapped[bool] = mapped_column(Boolean, default=True)
    present: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    __table_args__ = (UniqueConstraint("meeting_id", "account_id"),)

