"""Tables of the meeting control plane: agenda, documents, requests to speak, votes, audit log.

Secret ballots are stored so that nothing links a voter to a choice:
- `vote_voter` says who has voted (vote, account) and nothing else: no choice, no time;
- `vote_sealed_ballot` holds each secret choice sealed with the vote's key, which is kept
  outside the database (meetings.sealed_ballots), in random order within a batch;
- `vote_count` holds one counter per (vote, option): for an open vote updated by each batch,
  for a secret vote written once, at the close, from the opened sealed ballots;
- `vote_open_choice` (who chose what, and when) is written for open votes only.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meetings.models import Base, UtcDateTime, utcnow

VOTE_OPTIONS = ("yes", "no", "abstain")  # tán thành / không tán thành / không biểu quyết
THRESHOLDS = ("majority", "two_thirds")


class MeetingControl(Base):
    """Per-meeting settings of the control plane (one row, created on first use)."""

    __tablename__ = "meeting_control"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    # Total members of the body (thresholds and quorum are fractions of it); None: the invited delegates.
    members_total: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AgendaItem(Base):
    __tablename__ = "agenda_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    presenter: Mapped[str] = mapped_column(String(200), default="")
    planned_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    __table_args__ = (CheckConstraint("state in ('pending', 'current', 'done')", name="state"),)


class AgendaDocument(Base):
    """A PDF attached to an agenda item; the bytes live in data_dir/documents/<sha256>.pdf."""

    __tablename__ = "agenda_document"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_item.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SpeakRequest(Base):
    """A request to speak (đăng ký phát biểu), by a delegate or a point on behalf of someone."""

    __tablename__ = "speak_request"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"), nullable=True)
    requester: Mapped[str] = mapped_column(String(80))  # principal key: account:12 / point:ubnd-tinh
    speaker_name: Mapped[str] = mapped_column(String(200))
    point_id: Mapped[str | None] = mapped_column(ForeignKey("bridge_point.id"), nullable=True)
    topic: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")
    time_limit_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    __table_args__ = (
        CheckConstraint("state in ('queued', 'speaking', 'done', 'denied', 'withdrawn')", name="state"),
    )


class Vote(Base):
    __tablename__ = "vote"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"), nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    threshold: Mapped[str] = mapped_column(String(16), default="majority")
    total_members: Mapped[int] = mapped_column(Integer)
    quorum: Mapped[int] = mapped_column(Integer)
    hand_seats: Mapped[str] = mapped_column(Text, default="{}")  # JSON {point_id: seats voting by hand}
    state: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, set at close
    __table_args__ = (
        CheckConstraint("state in ('open', 'closed', 'cancelled')", name="state"),
        CheckConstraint("threshold in ('majority', 'two_thirds')", name="threshold"),
    )


class VoteEligible(Base):
    """The voters who may cast a ballot from a device, fixed when the vote opens."""

    __tablename__ = "vote_eligible"
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    point_id: Mapped[str | None] = mapped_column(ForeignKey("bridge_point.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(200))


class VoteVoter(Base):
    """Who has voted. Deliberately nothing else: no choice, no time."""

    __tablename__ = "vote_voter"
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)


class VoteSealedBallot(Base):
    """A secret ballot's choice, sealed (meetings.sealed_ballots); no voter, no time."""

    __tablename__ = "vote_sealed_ballot"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary(64))


class VoteCount(Base):
    """Anonymous device ballots: one counter per option."""

    __tablename__ = "vote_count"
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), primary_key=True)
    option: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class VoteOpenChoice(Base):
    """Who chose what, for open votes only (never written for a secret ballot)."""

    __tablename__ = "vote_open_choice"
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), primary_key=True)
    choice: Mapped[str] = mapped_column(String(16))
    cast_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class VoteHands(Base):
    """A show of hands at a bridge point, entered by its operator (latest entry wins)."""

    __tablename__ = "vote_hands"
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), primary_key=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("bridge_point.id"), primary_key=True)
    yes: Mapped[int] = mapped_column(Integer, default=0)
    no: Mapped[int] = mapped_column(Integer, default=0)
    abstain: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class MeetingExclusion(Base):
    """Someone the chair removed: they cannot join this meeting again."""

    __tablename__ = "meeting_exclusion"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), primary_key=True)
    principal_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    removed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditEntry(Base):
    """Append-only, hash-chained per meeting: hash = SHA-256(prev_hash + canonical fields)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: the log outlives deletions
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(80))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("meeting_id", "seq"),)
