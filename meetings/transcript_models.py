"""Tables of the transcript: recognised segments and the secretary's corrections of them.

A segment is what one microphone said between two pauses. It keeps both clocks (meeting time
in seconds since the meeting opened, and wall-clock UTC), the agenda item current when it
began, the words with their times and confidence, and the text exactly as recognised
(`original_text`, never changed) beside the current text. `search_text` is the current text
folded (no diacritics, lower case, đ → d) so search works with LIKE on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meetings.models import Base, UtcDateTime, utcnow

SEGMENT_KINDS = ("speech", "gap")  # gap: audio dropped because recognition fell behind


class TranscriptSegment(Base):
    __tablename__ = "transcript_segment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_item.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(8), default="speech")
    # The microphone heard: principal key of the browser participant or bridge point ("account:12", "point:x").
    source: Mapped[str] = mapped_column(String(80))
    speaker_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), nullable=True)
    speaker_point_id: Mapped[str | None] = mapped_column(ForeignKey("bridge_point.id"), nullable=True)
    speaker_name: Mapped[str] = mapped_column(String(200))
    start_s: Mapped[float] = mapped_column(Float)  # meeting time: seconds since the meeting opened
    end_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text)
    words: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{"word", "start_s", "end_s", "conf"}]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    __table_args__ = (
        CheckConstraint("kind in ('speech', 'gap')", name="kind"),
        CheckConstraint("end_s >= start_s", name="times"),
        Index("ix_transcript_segment_meeting_time", "meeting_id", "started_at"),
    )


class TranscriptCorrection(Base):
    """One change by the secretary: which field, the value before and after, who and when."""

    __tablename__ = "transcript_correction"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("transcript_segment.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(80))  # principal key
    by_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    __table_args__ = (CheckConstraint("field in ('text', 'speaker')", name="field"),)
