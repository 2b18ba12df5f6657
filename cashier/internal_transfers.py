"""Money between a client's wallet and trading accounts, tied to the MT balance operation through
the bridge's command outbox so that neither side is ever left half-done.

* **Wallet -> trading account.** One transaction posts wallet -> suspense and writes the outbox
  command (a deposit on the login, its counter account the suspense account). When the bridge's
  sync sees the deal it posts suspense -> trading account. If the server refuses the command, the
  settle step posts suspense -> wallet: unwound.
* **Trading account -> wallet.** One transaction writes the command (a withdrawal, checked against
  the free margin by the server). Nothing leaves the wallet side until the server confirms; then
  settle posts suspense -> wallet (sync has posted trading account -> suspense). A refusal: failed,
  nothing moved.
* **Between trading accounts** (same currency): the first account's withdrawal, then, when done,
  the second account's deposit; a refusal of the deposit sends the money to the wallet instead.

A crash anywhere leaves a committed request with its command: the outbox worker sends it exactly
once (it looks on the server before re-sending), and :func:`settle_transfers` finishes the ledger
side from the command's final status. Every ledger key derives from the transfer id.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cashier.errors import InsufficientFundsError, InvalidAmountError, InvalidStateError, NotFoundError
from cashier.models import InternalTransfer, TransferKind, TransferStatus
from cashier.requests import clean_key
from cashier.transactions import locked_wallet, money_transaction
from cashier.wallets import house_accounts
from core.audit.service import SYSTEM, Actor, record_audit
from core.db import Database
from core.jobs import send_now
from ledger.chart import Purpose
from ledger.posting import post_batch
from ledger.requests import Journal, Refusal, posted
from mt_bridge import accounts as mt_accounts
from mt_bridge.commands import PROCESS_COMMAND_ACTOR
from mt_bridge.errors import MtBridgeError
from mt_bridge.models import Command, CommandStatus, TradingAccount, TradingAccountStatus

REFUSED_COMMANDS = frozenset({CommandStatus.FAILED, CommandStatus.CANCELLED, CommandStatus.REJECTED})


def _key(transfer_id: int, step: str) -> str:
    return f"cashier:transfer:{transfer_id}:{step}"


def _view(transfer: InternalTransfer) -> dict[str, object]:
    return {
        "kind": transfer.kind,
        "status": transfer.status,
        "amount": transfer.from_amount,
        "currency": transfer.from_currency,
        "from_trading_account_id": transfer.from_trading_account_id,
        "to_trading_account_id": transfer.to_trading_account_id,
        "command_id": transfer.command_id,
        "second_command_id": transfer.second_command_id,
    }


async def _live_account(session: AsyncSession, client_id: int, trading_account_id: int) -> TradingAccount:
    account = await session.get(TradingAccount, trading_account_id)
    if account is None or account.client_id != client_id:
        raise NotFoundError("No such trading account.")
    if (
        account.status is not TradingAccountStatus.ACTIVE
        or account.is_demo
        or account.ledger_account_id is None
    ):
        raise InvalidStateError("Money moves only to and from open live trading accounts.")
    return account


async def _existing(db: Database, client_id: int, key: str) -> InternalTransfer | None:
    async with db.session() as session:
        found: InternalTransfer | None = await session.scalar(
            select(InternalTransfer).where(
                InternalTransfer.client_id == client_id, InternalTransfer.idempotency_key == key
            )
        )
        return found


async def _post(
    session: AsyncSession, key: str, debit: int, credit: int, amount: int, currency: str, code: str
) -> None:
    [result] = await post_batch(
        session,
        [Journal([posted(key, debit=debit, credit=credit, amount=amount, currency=currency, code=code)])],
    )
    if result.refusal is Refusal.INSUFFICIENT_FUNDS:
        raise InsufficientFundsError("Your available balance is not enough for this transfer.")
    if not result.ok:
        raise InvalidStateError(f"the ledger refused the transfer: {result.refusal}")


async def _balance_command(
    session: AsyncSession, account: TradingAccount, amount: int, transfer_id: int, step: str, suspense: int
) -> Command:
    try:
        return await mt_accounts.request_balance_operation(
            session,
            account.id,
            amount,
            request_key=_key(transfer_id, step),
            counter_account_id=suspense,
            comment="wallet transfer",
            check_margin=amount < 0,
        )
    except MtBridgeError as exc:
        raise InvalidStateError(str(exc)) from None


async def request_transfer(
    db: Database,
    *,
    client_id: int,
    kind: TransferKind,
    amount: int,
    idempotency_key: str,
    actor: Actor,
    from_trading_account_id: int | None = None,
    to_trading_account_id: int | None = None,
) -> InternalTransfer:
    """Record the transfer, its first ledger step and its outbox command in one transaction."""
    key = clean_key(idempotency_key)
    if type(amount) is not int or amount <= 0:
        raise InvalidAmountError("The amount must be more than zero.")
    existing = await _existing(db, client_id, key)
    if existing is not None:
        return existing
    try:
        async with money_transaction(db) as session:
            source = (
                await _live_account(session, client_id, from_trading_account_id)
                if from_trading_account_id
                else None
            )
            target = (
                await _live_account(session, client_id, to_trading_account_id)
                if to_trading_account_id
                else None
            )
            expected = {
                TransferKind.TO_TRADING: (False, True),
                TransferKind.FROM_TRADING: (True, False),
                TransferKind.BETWEEN_TRADING: (True, True),
            }.get(kind)
            if expected != (source is not None, target is not None) or (
                source and target and source.id == target.id
            ):
                raise InvalidStateError("Choose where the money comes from and where it goes.")
            currency = (source or target).currency  # type: ignore[union-attr]
            if source is not None and target is not None and source.currency != target.currency:
                raise InvalidStateError("Both trading accounts must be in the same currency.")
            wallet = await locked_wallet(session, client_id, currency)
            suspense = (await house_accounts(session, currency))[Purpose.SUSPENSE]
            transfer = InternalTransfer(
                client_id=client_id,
                kind=kind,
                from_currency=currency,
                from_amount=amount,
                to_currency=currency,
                to_amount=amount,
                status=TransferStatus.SENT,
                idempotency_key=key,
                from_trading_account_id=from_trading_account_id,
                to_trading_account_id=to_trading_account_id,
            )
            session.add(transfer)
            await session.flush()
            if kind is TransferKind.TO_TRADING:
                assert target is not None
                await _post(
                    session,
                    _key(transfer.id, "out"),
                    wallet,
                    suspense,
                    amount,
                    currency,
                    "transfer_to_trading",
                )
                command = await _balance_command(session, target, amount, transfer.id, "deposit", suspense)
            else:
                assert source is not None
                command = await _balance_command(session, source, -amount, transfer.id, "withdraw", suspense)
            transfer.command_id = command.id
            await record_audit(
                session,
                actor,
                "cashier.transfer_requested",
                target_type="transfer",
                target_id=transfer.id,
                after=_view(transfer),
            )
    except IntegrityError:
        found = await _existing(db, client_id, key)
        if found is None:
            raise
        return found
    send_now(PROCESS_COMMAND_ACTOR, command.id)
    return transfer


async def _command_status(session: AsyncSession, command_id: int | None) -> CommandStatus | None:
    if command_id is None:
        return None
    command = await session.get(Command, command_id)
    return None if command is None else command.status


async def _settle_one(session: AsyncSession, transfer: InternalTransfer) -> list[int]:
    """Move one transfer on from its commands' statuses; answers commands to send after commit."""
    currency, amount = transfer.from_currency, transfer.from_amount
    first = await _command_status(session, transfer.command_id)
    second = await _command_status(session, transfer.second_command_id)
    wallet = await locked_wallet(session, transfer.client_id, currency)
    suspense = (await house_accounts(session, currency))[Purpose.SUSPENSE]
    before = _view(transfer)
    to_send: list[int] = []
    if transfer.kind == TransferKind.TO_TRADING:
        if first is CommandStatus.DONE:
            transfer.status = TransferStatus.DONE
        elif first in REFUSED_COMMANDS:
            await _post(
                session, _key(transfer.id, "unwind"), suspense, wallet, amount, currency, "transfer_unwound"
            )
            transfer.status = TransferStatus.UNWOUND
    elif transfer.kind == TransferKind.FROM_TRADING:
        if first is CommandStatus.DONE:
            await _post(
                session, _key(transfer.id, "in"), suspense, wallet, amount, currency, "transfer_from_trading"
            )
            transfer.status = TransferStatus.DONE
        elif first in REFUSED_COMMANDS:
            transfer.status = TransferStatus.FAILED
    elif first in REFUSED_COMMANDS:
        transfer.status = TransferStatus.FAILED
    elif first is CommandStatus.DONE and transfer.second_command_id is None:
        target = await session.get(TradingAccount, transfer.to_trading_account_id)
        assert target is not None
        command = await _balance_command(session, target, amount, transfer.id, "deposit", suspense)
        transfer.second_command_id = command.id
        to_send.append(command.id)
    elif second is CommandStatus.DONE:
        transfer.status = TransferStatus.DONE
    elif second in REFUSED_COMMANDS:
        await _post(
            session, _key(transfer.id, "refund"), suspense, wallet, amount, currency, "transfer_refunded"
        )
        transfer.status = TransferStatus.REFUNDED_TO_WALLET
    if _view(transfer) != before:
        await record_audit(
            session,
            SYSTEM,
            f"cashier.transfer_{transfer.status}",
            target_type="transfer",
            target_id=transfer.id,
            before=before,
            after=_view(transfer),
        )
    return to_send


async def settle_transfers(db: Database, limit: int = 500) -> dict[str, int]:
    """Finish every transfer whose MT side has a final answer (idempotent; the scheduler runs it)."""
    async with db.session() as session:
        ids = list(
            await session.scalars(
                select(InternalTransfer.id)
                .where(InternalTransfer.status == TransferStatus.SENT)
                .order_by(InternalTransfer.id)
                .limit(limit)
            )
        )
    outcomes: dict[str, int] = {}
    for transfer_id in ids:
        async with money_transaction(db) as session:
            transfer = await session.scalar(
                select(InternalTransfer).where(InternalTransfer.id == transfer_id).with_for_update()
            )
            if transfer is None or transfer.status != TransferStatus.SENT:
                continue
            to_send = await _settle_one(session, transfer)
            status = str(transfer.status)
        for command_id in to_send:
            send_now(PROCESS_COMMAND_ACTOR, command_id)
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes


async def client_trading_accounts(db: Database, client_id: int) -> list[TradingAccount]:
    async with db.session() as session:
        return await mt_accounts.list_accounts(session, client_id)
