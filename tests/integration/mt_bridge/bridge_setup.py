"""A CRM wired to a real emulator on loopback: server, groups, account types, platform directory.

Everything here is real: the migrated database, the ledger, the MT5 Web API client and the
emulator over a socket. Only timings are shortened (backoff, leases) so tests stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.secrets_box import SecretsBox
from ledger.chart import Purpose, find_account
from ledger.reading import get_balances
from mt_bridge import accounts, products
from mt_bridge.command_worker import OutboxPolicy, process_due_commands
from mt_bridge.connect import PlatformDirectory, default_builder
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.models import AccountType, Command, CommandStatus, Platform, TradingAccount
from mt_bridge.sync import SyncPolicy

MANAGER_LOGIN = 1000
MANAGER_PASSWORD = "Manager1!"
FAST_OUTBOX = OutboxPolicy(
    lease=timedelta(seconds=30), backoff_base=timedelta(0), backoff_max=timedelta(0), max_attempts=50
)
FAST_SYNC = SyncPolicy(
    overlap=timedelta(seconds=5), safety_lag=timedelta(seconds=1), initial_backfill=timedelta(hours=1)
)


async def allow_everyone(session: AsyncSession, client_id: int) -> None:
    """The KYC check the app would inject; this CRM's clients are all verified."""


@dataclass
class Crm:
    db: Database
    box: SecretsBox
    emulator: Emulator
    directory: PlatformDirectory
    server_id: int
    live_type_id: int
    demo_type_id: int
    approval_type_id: int

    async def run_outbox(self, rounds: int = 200) -> None:
        """Process due commands until none is left (the worker, run in the test's loop)."""
        for _ in range(rounds):
            counts = await process_due_commands(
                self.db, self.directory.platform, self.box, FAST_OUTBOX, concurrency=8
            )
            if not counts:
                return
        raise AssertionError("the outbox did not drain")

    async def open_live_accounts(self, count: int, deposit: int = 0) -> list[TradingAccount]:
        opened = []
        async with self.db.transaction() as session:
            for client_id in range(1, count + 1):
                request = await accounts.request_account(
                    session,
                    self.box,
                    client_id=client_id,
                    account_type_id=self.live_type_id,
                    name=f"Client {client_id}",
                    leverage=100,
                    kyc_check=allow_everyone,
                )
                opened.append(request.account.id)
        await self.run_outbox()
        if deposit:
            async with self.db.transaction() as session:
                for account_id in opened:
                    await accounts.request_balance_operation(
                        session, account_id, deposit, request_key=f"initial:{account_id}", comment="deposit"
                    )
            await self.run_outbox()
        async with self.db.session() as session:
            rows = await session.scalars(select(TradingAccount).where(TradingAccount.id.in_(opened)))
            return sorted(rows, key=lambda a: a.id)

    async def ledger_balances(self) -> dict[int, int]:
        """Login → the ledger's balance of its trading account."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(TradingAccount.login, TradingAccount.ledger_account_id).where(
                        TradingAccount.server_id == self.server_id,
                        TradingAccount.ledger_account_id.is_not(None),
                    )
                )
            ).all()
        balances = await get_balances(self.db, [row.ledger_account_id for row in rows])
        return {row.login: balances[row.ledger_account_id].posted for row in rows}

    def server_balances(self, logins: list[int]) -> dict[int, int]:
        """Login → the emulator's balance in cents, read from the emulated server itself."""
        return {login: int(self.emulator.server.user(login).balance * 100) for login in logins}

    async def commands(self) -> list[Command]:
        async with self.db.session() as session:
            return list(await session.scalars(select(Command).order_by(Command.id)))

    async def suspense_balance(self) -> int:
        async with self.db.session() as session:
            account_id = await find_account(session, Purpose.SUSPENSE, "USD")
        return (await get_balances(self.db, [account_id]))[account_id].posted


async def build_crm(
    db: Database, emulator: Emulator, platform: Platform = Platform.MT5, box: SecretsBox | None = None
) -> Crm:
    """``box``: the apps' own (from their settings) when the test drives them over HTTP."""
    box = box or SecretsBox(b"k" * 32)
    async with db.transaction() as session:
        server = await products.add_server(
            session,
            box,
            name="emulator",
            platform=platform,
            address=emulator.base_url,
            manager_login=MANAGER_LOGIN,
            manager_password=MANAGER_PASSWORD,
            login_range_start=500000,
            time_offset_minutes=emulator.config.time_offset_minutes,
        )
        live_group = await products.add_group(
            session, server.id, name="demo\\forex-usd", currency="USD", leverage_max=500
        )
        live = await products.add_account_type(
            session, code="std", name="Standard", group_id=live_group.id, leverage_options=[50, 100, 200]
        )
        demo = await products.add_account_type(
            session,
            code="demo",
            name="Demo",
            group_id=live_group.id,
            leverage_options=[100, 500],
            is_demo=True,
            demo_deposit=1_000_000,
        )
        approval = await products.add_account_type(
            session,
            code="pro",
            name="Pro",
            group_id=live_group.id,
            leverage_options=[100, 200, 500],
            auto_leverage_max=200,
            needs_approval=True,
        )
        await products.add_symbol(
            session, name="XAUUSD", contract_size=Decimal(100), digits=2, aliases=["XAUUSD.m"]
        )
        ids = (server.id, live.id, demo.id, approval.id)
    verify = emulator.certificate.client_context() if emulator.certificate is not None else True
    directory = PlatformDirectory(db, box, default_builder(verify))
    return Crm(db, box, emulator, directory, *ids)


async def account_type(db: Database, type_id: int) -> AccountType:
    async with db.session() as session:
        found = await session.get(AccountType, type_id)
        assert found is not None
        return found


DONE = CommandStatus.DONE
