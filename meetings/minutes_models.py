"""Tables of the minutes: the chair's conclusions, draft versions, comments, signing, signatures.

A version's text never changes once written: an edit writes a new version. Sending a version
for signing freezes it; the PDF then moves through the signatures (each a new file, named by
its SHA-256 in the data directory), and an edit after that starts a new version from scratch.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meetings.models import Base, UtcDateTime, utcnow

SIGNING_STATES = ("secretary", "chair", "seal", "signed", "published", "cancelled")
SIGNER_ROLES = ("secretary", "chair", "seal")


class ItemConclusion(Base):
    """The chair's conclusion (kết luận) on an agenda item, entered during or after it."""

    __tablename__ = "item_conclusion"
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_item.id", ondelete="CASCADE"), primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class MinutesVersion(Base):
    __tablename__ = "minutes_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(80))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    content: Mapped[str] = mapped_column(Text)  # MinutesDocument.to_json(), canonical JSON
    frozen: Mapped[bool] = mapped_column(default=False)
    __table_args__ = (UniqueConstraint("meeting_id", "number"),)


class MinutesComment(Base):
    """The chair's (or secretary's) remark on a version, optionally on one section."""

    __tablename__ = "minutes_comment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("minutes_version.id", ondelete="CASCADE"), index=True)
    section_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    author: Mapped[str] = mapped_column(String(80))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    text: Mapped[str] = mapped_column(Text)


class MinutesSigning(Base):
    """A frozen version on its way through the signatures; `pdf_sha256` is the latest file."""

    __tablename__ = "minutes_signing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("minutes_version.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="secretary")
    with_seal: Mapped[bool] = mapped_column(default=False)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    __table_args__ = (
        CheckConstraint(
            "state in ('secretary', 'chair', 'seal', 'signed', 'published', 'cancelled')", name="state"
        ),
    )


class MinutesSignature(Base):
    __tablename__ = "minutes_signature"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signing_id: Mapped[int] = mapped_column(ForeignKey("minutes_signing.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    key_kind: Mapped[str] = mapped_column(String(16))  # pkcs12 / pkcs11 / external
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    pdf_sha256: Mapped[str] = mapped_column(String(64))  # the file after this signature
    __table_args__ = (
        UniqueConstraint("signing_id", "role"),
        CheckConstraint("role in ('secretary', 'chair', 'seal')", name="role"),
    )
