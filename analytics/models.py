"""The analytics table: one row of figures per client, replaced whole by each recompute.

Amounts are minor units of :data:`analytics.settings.REPORT_CURRENCY`; volume is in units of
10⁻⁸ lot (MT5's finest volume step) so that it adds up exactly as an integer on both databases.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

LOTS_SCALE = 8
"""``lots_e8`` holds lots times 10⁸."""


class ClientMetrics(Base):
    """What one client is worth to the broker and whether it is drifting away, as of ``computed_at``."""

    __tablename__ = "analytics_client_metrics"
    __table_args__ = (
        Index("ix_analytics_client_metrics_tier", "value_tier"),
        Index("ix_analytics_client_metrics_churn", "churn_risk"),
        Index("ix_analytics_client_metrics_net", "net_deposits"),
        Index("ix_analytics_client_metrics_activity", "last_activity_at"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(8))
    deposited: Mapped[int]
    """Credited deposits (what reached the wallet), converted and added up."""
    withdrawn: Mapped[int]
    """Paid withdrawals."""
    net_deposits: Mapped[int]
    """``deposited - withdrawn``; negative when a client took out more than it put in."""
    balance: Mapped[int]
    """Posted wallet balances plus the mirrored balances of live trading accounts."""
    closing_deals: Mapped[int]
    lots_e8: Mapped[int]
    """Volume of the closing deals of live accounts, in 10⁻⁸ lot."""
    commissions: Mapped[int]
    """IB commission lines earned on the client's deals, by the whole upline."""
    last_trade_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime]
    """The latest of the last trade, the last portal sign-in and the registration."""
    funded: Mapped[bool]
    churn_risk: Mapped[bool]
    value_tier: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime]
