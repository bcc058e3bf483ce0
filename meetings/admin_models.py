"""Tables of meeting administration: tokens issued from the web, and the invitation mail queue.

- `issued_point_token`: a bridge-point token issued by an administrator from the web (only its
  hash); it works beside a `token_hash` written in rooms.toml, which stays valid too.
- `mail_outbox`: invitation e-mails waiting to be sent, retried with backoff
  (meetings/invitations.py); a message that finally failed stays here to be shown.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meetings.models import Base, UtcDateTime, utcnow


class IssuedPointToken(Base):
    __tablename__ = "issued_point_token"
    point_id: Mapped[str] = mapped_column(ForeignKey("bridge_point.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(80), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(80))  # principal key of the administrator


class OutgoingMail(Base):
    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), nullable=True)
    recipient: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))  # request (new or changed) or cancel
    sequence: Mapped[int] = mapped_column(Integer)  # the iCalendar SEQUENCE it carries
    message: Mapped[str] = mapped_column(Text)  # the whole RFC 5322 message, built when queued
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    __table_args__ = (
        CheckConstraint("state in ('pending', 'sent', 'failed', 'superseded')", name="state"),
        CheckConstraint("kind in ('request', 'cancel')", name="kind"),
    )
