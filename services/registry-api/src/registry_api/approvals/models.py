"""The approval history: one row per approval or reopening of a region's month, never changed (a trigger refuses)."""

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Identity, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from registry_api.db import Base


class PeriodApproval(Base):
    """A region's month approved or reopened, by whom (actor and role) and when; the newest row is its state."""

    __tablename__ = "period_approval"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(13))
    period: Mapped[dt.date] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("action IN ('approved', 'reopened')", name="period_approval_action"),
        CheckConstraint("period = date_trunc('month', period)::date", name="period_approval_month"),
        Index("period_approval_period_region", "period", "region_code", "id"),
    )
