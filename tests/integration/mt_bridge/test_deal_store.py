"""The deal upsert on both of its writers: COPY through a staging table (PostgreSQL, big windows)
and one statement per chunk (SQLite, small windows). Both must store the same text for the same
deal, so re-reading a deal through the other writer changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text

from mt_bridge.deal_store import COPY_THRESHOLD, upsert_deals
from mt_bridge.models import MirroredDeal
from mt_bridge.records import Deal
from tests.integration.mt_bridge.bridge_setup import Crm

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def window_of_deals(count: int) -> list[Deal]:
    """Closing deals whose lots and prices are the awkward decimals (``1E-7`` has an exponent)."""
    return [
        Deal(
            ticket=50_000 + index,
            login=600_000 + index % 7,
            order=70_000 + index,
            position_id=80_000 + index,
            action=index % 2,
            entry=1,
            symbol="EURUSD",
            raw_symbol="EURUSD.m",
            volume=Decimal(10 + index) / Decimal(100_000_000),
            volume_closed=Decimal("1E-7"),
            price=Decimal("1.08512") + Decimal(index).scaleb(-5),
            profit=index * 7 - 900,
            commission=-350,
            swap=-12,
            fee=0,
            currency_digits=2,
            contract_size=Decimal(100_000),
            time=START + timedelta(milliseconds=index * 250),
            server_time_msc=1_796_000_000_000 + index * 250,
            comment=f"deal {index}",
        )
        for index in range(count)
    ]


async def stored(crm: Crm) -> dict[int, tuple[object, ...]]:
    async with crm.db.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT ticket, volume, volume_closed, price, profit, revision, needs_posting, synced_at"
                " FROM mt_deal WHERE server_id = :server ORDER BY ticket"
            ),
            {"server": crm.server_id},
        )
        return {row[0]: tuple(row[1:]) for row in rows}


async def test_both_writers_store_one_text_and_rewrite_nothing_unchanged(crm: Crm) -> None:
    deals = window_of_deals(COPY_THRESHOLD + 50)
    first_seen = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    async with crm.db.engine.begin() as connection:
        assert await upsert_deals(connection, crm.server_id, deals, first_seen) == len(deals)
    rows = await stored(crm)
    assert len(rows) == len(deals)
    assert rows[50_000][:4] == ("0.0000001", "0.0000001", "1.08512", -900)
    assert rows[50_000 + 249][:3] == ("0.00000259", "0.0000001", "1.08761")

    # The same deals again in windows too small for COPY: nothing is written, not even synced_at.
    later = first_seen + timedelta(minutes=5)
    async with crm.db.engine.begin() as connection:
        for start in range(0, len(deals), COPY_THRESHOLD // 2):
            await upsert_deals(connection, crm.server_id, deals[start : start + COPY_THRESHOLD // 2], later)
    assert await stored(crm) == rows

    # A dealer's edit of one deal's money bumps that deal's revision and asks for posting.
    edited = replace(deals[3], profit=deals[3].profit + 1234)
    async with crm.db.engine.begin() as connection:
        await upsert_deals(connection, crm.server_id, [*deals[:3], edited, *deals[4:]], later)
    after = await stored(crm)
    assert after[edited.ticket][3:6] == (edited.profit, 1, True)
    assert {ticket: row for ticket, row in after.items() if ticket != edited.ticket} == {
        ticket: row for ticket, row in rows.items() if ticket != edited.ticket
    }
    async with crm.db.session() as session:
        mirrored = await session.scalar(select(MirroredDeal).where(MirroredDeal.ticket == 50_001))
    assert mirrored is not None
    assert (mirrored.volume, mirrored.price) == (Decimal("0.00000011"), Decimal("1.08513"))
