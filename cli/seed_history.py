"""Three months of demo history, made by running the real services with the clock set back.

Six demo traders, referred at every level of the demo IB network, register over the first weeks,
pass KYC, save a bank account, open a live MT5 account on the demo's emulator and fund it by
bank wire. Every few simulated days the
emulators' trade simulators trade their accounts, a sync pass brings the deals into the CRM and
posts them to the ledger, and the commission engine pays the IB network; now and then a trader
tops up or takes money out through a four-eyes withdrawal, and at each month's start the IBs'
monthly payout moves their commission to their wallets.

Nothing is written behind the services' backs: :func:`core.clock.set_to` sets the process's
clock (and with it the emulators') to each past moment, and the same functions the portal, the
back office and the workers call do the work, over the real MT5 Web API client. The history
stops a few days before today, and the accounts stay funded on the emulator, so its simulator
keeps trading them while the demo runs and the commissions carry on from there. The demo's MT4
server is synced too, but holds no history accounts.

The traders' accounts are all MT5: in a trial with two of them on the MT4 server, those two
accounts reconciled with a difference between the ledger and the emulator's MT4 gateway, which is
not explained yet (see the demo's report); until it is, the history keeps to MT5.

Jobs the services enqueue while the clock is set back (mails about past events, instant payouts)
are dropped: the history drives every step it needs itself, and the workers start afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from cashier import deposits, internal_transfers, withdrawals
from cashier.bank_accounts import add_bank_account, verify_bank_account
from cashier.limits import current_withdrawal_policy
from cashier.models import DestinationKind, TransferKind
from cashier.sweeps import settle_internal_transfers
from cli.seed_identity import DEMO_CLIENT_PASSWORD, DEMO_DOMAIN
from cli.seed_kyc import VERIFIED, add_client, tiny_pdf
from cli.seed_trading import DEMO_MT4_SERVER, DEMO_SERVER
from core import clock, jobs
from core.audit.service import Actor
from core.db import Database
from core.identity.models import STAFF, User
from core.secrets_box import SecretsBox
from core.settings import Settings
from core.storage import EncryptedFileStore
from ib import attribution, bridge_feed, payouts
from ib.models import Partner
from mt_bridge import accounts, command_worker, sync
from mt_bridge.connect import PlatformDirectory
from mt_bridge.emulator.http_server import Emulator
from mt_bridge.models import AccountType, TradingServer
from portal.bridge_wiring import live_account_allowed
from portal.cashier_wiring import KYC_GATES

HISTORY_DAYS = 92
"""How far back the demo broker's history starts (the seeded staff, IBs and clients date from then)."""
RECENT_DAYS = 4
"""The history ends this many days ago; the live simulator fills the days since."""
STEP_DAYS = 4
"""One simulated trading session every this many days."""
SESSION_STEPS = 10
"""Simulator steps per session, :data:`STEP_MINUTES` apart."""
STEP_MINUTES = 25
ACCOUNT_TYPE = "standard"
FINANCE = "finance"
SECOND_APPROVER = "admin"

# local part, first name, referral code, day of registration, first deposit in cents, account type
TRADERS = (
    ("trader-amber", "Amber", "DEMOMASTER", 1, 900_000, ACCOUNT_TYPE),
    ("trader-bruno", "Bruno", "DEMOMASTER", 13, 400_000, ACCOUNT_TYPE),
    ("trader-chen", "Chen", "DEMOAGENT", 4, 750_000, ACCOUNT_TYPE),
    ("trader-dana", "Dana", "DEMOAGENT", 31, 500_000, ACCOUNT_TYPE),
    ("trader-emil", "Emil", "DEMOSUB", 7, 600_000, ACCOUNT_TYPE),
    ("trader-fay", "Fay", "DEMOSUB", 46, 300_000, ACCOUNT_TYPE),
)


def history_start() -> datetime:
    """09:00 UTC on the history's first day: when the demo broker's staff and IBs were set up."""
    day = clock.utcnow() - timedelta(days=HISTORY_DAYS)
    return day.replace(hour=9, minute=0, second=0, microsecond=0)


def demo_iban(number: int) -> str:
    """A valid GB IBAN on the fictional bank code ``DEMO`` (ISO 13616 check digits)."""
    bban = f"DEMO{400000 + number:06d}{10000000 + number:08d}"
    digits = "".join(str(int(ch, 36)) for ch in bban + "GB00")
    return f"GB{98 - int(digits) % 97:02d}{bban}"


@dataclass
class Trader:
    local: str
    client_id: int
    actor: Actor
    bank_account_id: int
    trading_account_id: int
    deposits: int = 0
    withdrawals: int = 0


@dataclass
class History:
    """The state one history run carries from session to session."""

    database: Database
    settings: Settings
    directory: PlatformDirectory
    box: SecretsBox
    store: EncryptedFileStore
    server_ids: list[int]
    account_type_ids: dict[str, int]
    finance: Actor
    second: Actor
    simulators: list[Callable[[], object]]
    """One step of each emulator's trade simulator."""
    traders: list[Trader]

    async def commands(self) -> None:
        """What the worker's outbox sweep does: send the due commands to the emulator."""
        await command_worker.process_due_commands(self.database, self.directory.platform, self.box)

    async def sync_pass(self) -> None:
        """What ``mt_bridge.sync_server`` and the ``ib.process_synced_deals`` job it sends do,
        for each server."""
        for server_id in self.server_ids:
            started = clock.utcnow()
            await sync.sync_server(self.database, self.directory.platform, server_id)
            await bridge_feed.process_synced_deals(
                self.database, server_id, changed_since=started, deleted_since=started
            )

    async def onboard(self, local: str, first_name: str, code: str, deposit: int, account_type: str) -> None:
        client_id = await add_client(self.database, self.settings, self.store, local, first_name, VERIFIED)
        if client_id is None:
            return
        email = f"{local}@{DEMO_DOMAIN}"
        actor = Actor(id=client_id, email=email, kind="client")
        async with self.database.transaction() as session:
            await attribution.register_through_link(session, client_id, code, now=clock.utcnow())
        bank = await add_bank_account(
            self.database,
            client_id=client_id,
            holder_name=f"Demo {first_name} Example",
            country="GB",
            number=demo_iban(len(self.traders)),
            bic="WESTGB2L",
            bank_name="Demo Bank plc",
            currency="USD",
            actor=actor,
        )
        await verify_bank_account(self.database, bank.id, self.finance)
        async with self.database.transaction() as session:
            opened = await accounts.request_account(
                session,
                self.box,
                client_id=client_id,
                account_type_id=self.account_type_ids.get(account_type, self.account_type_ids[ACCOUNT_TYPE]),
                name=f"Demo {first_name}",
                leverage=100,
                kyc_check=live_account_allowed,
                email=email,
                request_key=f"demo-history-open-{local}",
            )
            account_id = opened.account.id
        await self.commands()
        trader = Trader(local, client_id, actor, bank.id, account_id)
        self.traders.append(trader)
        await self.deposit(trader, deposit)

    async def deposit(self, trader: Trader, amount: int) -> None:
        """A bank wire the client declares and finance approves, then moved to the trading account."""
        trader.deposits += 1
        key = f"demo-history-{trader.local}-{trader.deposits}"
        deposit = await deposits.submit_wire_deposit(
            self.database,
            self.store,
            KYC_GATES,
            client_id=trader.client_id,
            currency="USD",
            amount=amount,
            proof=tiny_pdf("Demo wire receipt"),
            max_bytes=self.settings.max_upload_bytes,
            idempotency_key=f"{key}-wire",
            actor=trader.actor,
        )
        await deposits.approve_wire_deposit(self.database, deposit.id, amount, self.finance, gates=KYC_GATES)
        await self.transfer(trader, TransferKind.TO_TRADING, amount, f"{key}-in")

    async def transfer(self, trader: Trader, kind: TransferKind, amount: int, key: str) -> None:
        into_trading = kind is TransferKind.TO_TRADING
        await internal_transfers.request_transfer(
            self.database,
            client_id=trader.client_id,
            kind=kind,
            amount=amount,
            idempotency_key=key,
            actor=trader.actor,
            to_trading_account_id=trader.trading_account_id if into_trading else None,
            from_trading_account_id=None if into_trading else trader.trading_account_id,
        )
        await self.commands()
        await settle_internal_transfers(self.database)

    async def withdraw(self, trader: Trader, amount: int) -> None:
        """From the trading account to the wallet, then a withdrawal two staff approve, paid by wire."""
        trader.withdrawals += 1
        key = f"demo-history-{trader.local}-out-{trader.withdrawals}"
        await self.transfer(trader, TransferKind.FROM_TRADING, amount, f"{key}-from")
        policy = await current_withdrawal_policy(self.database, self.settings, "USD")
        request = await withdrawals.request_withdrawal(
            self.database,
            KYC_GATES,
            policy,
            client_id=trader.client_id,
            currency="USD",
            amount=amount,
            destination=withdrawals.Destination(
                DestinationKind.BANK_ACCOUNT, bank_account_id=trader.bank_account_id
            ),
            idempotency_key=key,
            actor=trader.actor,
        )
        approved = await withdrawals.approve_withdrawal(self.database, request.id, policy, self.finance)
        if amount >= policy.four_eyes_from:
            approved = await withdrawals.approve_withdrawal(self.database, approved.id, policy, self.second)
        await withdrawals.mark_paid_by_wire(
            self.database, approved.id, f"DEMO-WIRE-{approved.id:06d}", self.finance
        )


@contextlib.contextmanager
def _jobs_dropped() -> Iterator[None]:
    previous = jobs.set_sender(lambda job: None)
    try:
        yield
    finally:
        jobs.set_sender(previous)


async def _staff(database: Database, role: str) -> Actor:
    email = f"{role.replace('_', '-')}@{DEMO_DOMAIN}"
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.kind == STAFF, User.email == email))
    assert user is not None, f"the identity seeder makes {email}"
    return Actor(id=user.id, email=email, kind="staff")


async def _prepare(
    database: Database, settings: Settings, directory: PlatformDirectory, emulators: list[Emulator]
) -> History | None:
    async with database.session() as session:
        server_ids = list(
            await session.scalars(
                select(TradingServer.id)
                .where(TradingServer.name.in_((DEMO_SERVER, DEMO_MT4_SERVER)))
                .order_by(TradingServer.id)
            )
        )
        types = select(AccountType.code, AccountType.id).where(
            AccountType.code.in_({kind for *_rest, kind in TRADERS})
        )
        type_ids = {code: type_id for code, type_id in await session.execute(types)}
        partner_ids = list(await session.scalars(select(Partner.id)))
        seeded = await session.scalar(select(User.id).where(User.email == f"{TRADERS[0][0]}@{DEMO_DOMAIN}"))
    if not server_ids or ACCOUNT_TYPE not in type_ids or seeded is not None:
        return None
    async with database.transaction() as session:
        for partner_id in partner_ids:
            await payouts.set_policy(
                session, partner_id, frequency="monthly", actor="system:demo", now=clock.utcnow()
            )
    return History(
        database=database,
        settings=settings,
        directory=directory,
        box=SecretsBox.from_settings(settings),
        store=EncryptedFileStore.from_settings(settings),
        server_ids=server_ids,
        account_type_ids=type_ids,
        finance=await _staff(database, FINANCE),
        second=await _staff(database, SECOND_APPROVER),
        simulators=[emulator.simulator.step for emulator in emulators],
        traders=[],
    )


async def _session(history: History, day: int, moment: datetime) -> None:
    """One simulated trading session on ``day`` of the history, starting at ``moment``."""
    for local, first_name, code, registered, deposit, account_type in TRADERS:
        if day - STEP_DAYS < registered <= day:
            await history.onboard(local, first_name, code, deposit, account_type)
    for number, trader in enumerate(history.traders):
        turn = (day // STEP_DAYS + number) % 9
        if turn == 4:
            await history.deposit(trader, 150_000 + 50_000 * number)
        elif turn == 8 and day > 20:
            await history.withdraw(trader, 40_000 + 30_000 * number)
    for step in range(SESSION_STEPS):
        with clock.set_to(moment + timedelta(minutes=STEP_MINUTES * (step + 1))):
            for simulate in history.simulators:
                simulate()
    with clock.set_to(moment + timedelta(minutes=STEP_MINUTES * (SESSION_STEPS + 1))):
        await history.sync_pass()


async def seed_history(
    database: Database, settings: Settings, emulator: Emulator, mt4_emulator: Emulator | None = None
) -> list[str]:
    """Build the history once (a later start finds the first trader and only prints the logins)."""
    lines = [
        f"history: {HISTORY_DAYS} days of deposits, trades, commissions, withdrawals and payouts;"
        f" traders (password {DEMO_CLIENT_PASSWORD}), each with a funded live account that keeps trading"
    ]
    lines += [
        f"  {local + '@' + DEMO_DOMAIN:<40} referred by {code:<10} {kind}"
        for local, _, code, _day, _deposit, kind in TRADERS
    ]
    start = history_start()
    directory = PlatformDirectory(database, SecretsBox.from_settings(settings))
    try:
        with _jobs_dropped(), clock.set_to(start):
            emulators = [emulator] if mt4_emulator is None else [emulator, mt4_emulator]
            history = await _prepare(database, settings, directory, emulators)
        if history is None:
            return lines
        month = start.month
        with _jobs_dropped():
            for day in range(0, HISTORY_DAYS - RECENT_DAYS, STEP_DAYS):
                moment = start + timedelta(days=day)
                with clock.set_to(moment):
                    if moment.month != month:
                        month = moment.month
                        await payouts.run_scheduled(database, "monthly", now=moment)
                    await _session(history, day, moment)
    finally:
        await directory.close()
    return lines
