"""Tables of the bridge points at work: operators attached to a point, and each point's outages.

- `operator_point`: an account with role `operator` acts for one bridge point (its room's
  technician), with the point's capacity in every meeting that invites the point.
- `point_outage`: a span during which an invited point was offline in an open meeting (its
  screen or agent stopped reporting health); kept for the minutes.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meetings.models import Base, UtcDateTime


class OperatorPoint(Base):
    __tablename__ = "operator_point"
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("bridge_point.id"), index=True)


class PointOutage(Base):
    __tablename__ = "point_outage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    point_id: Mapped[str] = mapped_column(ForeignKey("bridge_point.id"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
