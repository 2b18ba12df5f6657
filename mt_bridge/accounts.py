"""Trading accounts: opening (demo at once, live behind the injected KYC check and, when the
account type says so, staff approval), leverage changes, password resets and balance operations.

Every change to a server goes through the command outbox (:mod:`mt_bridge.commands`); the
functions here work inside the caller's transaction and never make a network call. Passwords are
generated here, returned once for the caller to show and mail, and kept only sealed in the
command until it is done.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFoundError
from core.events import EventKind, record_event
from core.jobs import enqueue_after_commit
from core.secrets_box import SecretsBox
from ledger.chart import Purpose, open_owner_account
from mt_bridge.command_lookup import ClaimedCommand
from mt_bridge.commands import PROCESS_COMMAND_ACTOR, new_command
from mt_bridge.errors import AccountRequestError, CommandStateError, RepeatedRequestError
from mt_bridge.models import (
    AccountType,
    Command,
    CommandKind,
    CommandStatus,
    MirroredDeal,
    TradingAccount,
    TradingAccountStatus,
    TradingGroup,
    TradingServer,
)
from mt_bridge.records import BalanceOperationType, PasswordKind

T = TypeVar("T")

KycCheck = Callable[[AsyncSession, int], Awaitable[None]]
"""Raises when the client's KYC level does not allow a live account (wired in by the app)."""

PASSWORD_SYMBOLS = "!#$%*+-=?@"  # noqa: S105 - the symbols a generated password may use


def ledger_owner_id(server_id: int, login: int) -> str:
    """The ledger owner id of a trading login: logins are unique per server only."""
    return f"{server_id}:{login}"


def generate_password(length: int = 12) -> str:
    """A password that meets MT's rules: lower, upper, digit and symbol, 8 to 16 characters."""
    alphabet = string.ascii_letters + string.digits + PASSWORD_SYMBOLS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(c in PASSWORD_SYMBOLS for c in candidate)
        ):
            return candidate


@dataclass(frozen=True)
class OpenedAccount:
    """The account row and the credentials to show once (and mail); the login comes when it opens."""

    account: TradingAccount
    command: Command
    main_password: str
    investor_password: str


async def refuse_repeated_request(session: AsyncSession, request_key: str | None) -> None:
    """A request that makes a password runs once per key: a repeat (a double submit) can't show or
    mail the password again, so it is refused instead of answered with a new, unused password."""
    if request_key is not None and await session.scalar(
        select(Command.id).where(Command.request_key == request_key)
    ):
        raise RepeatedRequestError("this request was made already; its password was shown and mailed then")


async def request_account(
    session: AsyncSession,
    box: SecretsBox,
    *,
    client_id: int,
    account_type_id: int,
    name: str,
    leverage: int,
    kyc_check: KycCheck,
    email: str = "",
    request_key: str | None = None,
) -> OpenedAccount:
    """Ask for a new account: demo opens at once; live needs KYC, and approval if the type says so."""
    await refuse_repeated_request(session, request_key)
    account_type = await _get(session, AccountType, account_type_id)
    server = await _get(session, TradingServer, account_type.server_id)
    if not (account_type.enabled and server.enabled):
        raise AccountRequestError("this account type is not offered")
    if leverage not in account_type.leverage_options:
        raise AccountRequestError(f"leverage {leverage} is not offered for this account type")
    if not account_type.is_demo:
        await kyc_check(session, client_id)
    group = await _get(session, TradingGroup, account_type.group_id)
    awaiting = account_type.needs_approval and not account_type.is_demo
    account = TradingAccount(
        client_id=client_id,
        server_id=account_type.server_id,
        account_type_id=account_type.id,
        group_name=group.name,
        currency=group.currency,
        currency_digits=group.currency_digits,
        leverage=leverage,
        is_demo=account_type.is_demo,
        status=TradingAccountStatus.AWAITING_APPROVAL if awaiting else TradingAccountStatus.OPENING,
    )
    session.add(account)
    await session.flush()
    main, investor = generate_password(), generate_password()
    command = await new_command(
        session,
        server_id=account.server_id,
        kind=CommandKind.CREATE_ACCOUNT,
        payload={"group": group.name, "name": name, "leverage": leverage, "email": email},
        trading_account_id=account.id,
        secret={"main": main, "investor": investor},
        box=box,
        awaiting_approval=awaiting,
        request_key=request_key,
    )
    return OpenedAccount(account, command, main, investor)


async def approve_command(session: AsyncSession, command_id: int, staff_id: int) -> Command:
    """Staff approval of a live account opening or a leverage change: it goes to the worker."""
    command = await _get(session, Command, command_id)
    if command.status is not CommandStatus.AWAITING_APPROVAL:
        raise CommandStateError(f"command {command_id} is {command.status}, not awaiting approval")
    command.status = CommandStatus.PENDING
    command.payload = {**command.payload, "approved_by": staff_id}
    if command.kind is CommandKind.CREATE_ACCOUNT and command.trading_account_id is not None:
        account = await _get(session, TradingAccount, command.trading_account_id)
        account.status = TradingAccountStatus.OPENING
    enqueue_after_commit(session, PROCESS_COMMAND_ACTOR, command.id)
    return command


async def reject_command(session: AsyncSession, command_id: int, staff_id: int, reason: str) -> Command:
    command = await _get(session, Command, command_id)
    if command.status is not CommandStatus.AWAITING_APPROVAL:
        raise CommandStateError(f"command {command_id} is {command.status}, not awaiting approval")
    command.status = CommandStatus.REJECTED
    command.secret_sealed = None
    command.last_error = f"rejected by staff {staff_id}: {reason}"[:500]
    if command.kind is CommandKind.CREATE_ACCOUNT and command.trading_account_id is not None:
        account = await _get(session, TradingAccount, command.trading_account_id)
        account.status = TradingAccountStatus.REJECTED
    return command


async def request_leverage_change(
    session: AsyncSession,
    trading_account_id: int,
    leverage: int,
    *,
    client_id: int,
    request_key: str | None = None,
) -> Command:
    """A client's leverage change: at once up to the type's automatic limit, else staff approval."""
    account = await _active_account(session, trading_account_id, client_id)
    account_type = await _get(session, AccountType, account.account_type_id)
    if leverage not in account_type.leverage_options:
        raise AccountRequestError(f"leverage {leverage} is not offered for this account type")
    return await new_command(
        session,
        server_id=account.server_id,
        kind=CommandKind.CHANGE_LEVERAGE,
        payload={"login": account.login, "leverage": leverage},
        trading_account_id=account.id,
        awaiting_approval=leverage > account_type.auto_leverage_max,
        request_key=request_key,
    )


async def request_password_reset(
    session: AsyncSession,
    box: SecretsBox,
    trading_account_id: int,
    kind: PasswordKind,
    *,
    client_id: int,
    request_key: str | None = None,
) -> tuple[Command, str]:
    """A new main or investor password; returned once for the caller to show and mail."""
    if kind is PasswordKind.API:
        raise AccountRequestError("clients reset the main or investor password only")
    account = await _active_account(session, trading_account_id, client_id)
    await refuse_repeated_request(session, request_key)
    password = generate_password()
    command = await new_command(
        session,
        server_id=account.server_id,
        kind=CommandKind.CHANGE_PASSWORD,
        payload={"login": account.login, "password_kind": kind.value},
        trading_account_id=account.id,
        secret={"password": password},
        box=box,
        request_key=request_key,
    )
    return command, password


async def request_group_change(session: AsyncSession, trading_account_id: int, group_id: int) -> Command:
    """Staff move an account to another group of the same server and currency."""
    account = await _get(session, TradingAccount, trading_account_id)
    group = await _get(session, TradingGroup, group_id)
    if group.server_id != account.server_id or group.currency != account.currency:
        raise AccountRequestError("the new group must be on the same server with the same currency")
    return await new_command(
        session,
        server_id=account.server_id,
        kind=CommandKind.CHANGE_GROUP,
        payload={"login": account.login, "group": group.name},
        trading_account_id=account.id,
    )


async def request_balance_operation(
    session: AsyncSession,
    trading_account_id: int,
    amount: int,
    *,
    request_key: str,
    kind: BalanceOperationType = BalanceOperationType.BALANCE,
    comment: str = "",
    counter_account_id: int | None = None,
    check_margin: bool = True,
) -> Command:
    """Move money on a trading account. The ledger side is posted when sync sees the deal, against
    ``counter_account_id`` (the money's other side; the house suspense account when None)."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise AccountRequestError("a balance operation moves a non-zero integer of minor units")
    account = await _get(session, TradingAccount, trading_account_id)
    if account.status is not TradingAccountStatus.ACTIVE or account.login is None:
        raise AccountRequestError("the trading account is not open")
    return await new_command(
        session,
        server_id=account.server_id,
        kind=CommandKind.BALANCE_OPERATION,
        payload={
            "login": account.login,
            "kind": int(kind),
            "amount": amount,
            "currency_digits": account.currency_digits,
            "comment": comment,
            "check_margin": check_margin,
        },
        trading_account_id=account.id,
        request_key=request_key,
        counter_account_id=counter_account_id,
    )


async def list_accounts(session: AsyncSession, client_id: int) -> list[TradingAccount]:
    """A client's accounts with balance, equity, margin and free margin from the last sync."""
    rows = await session.scalars(
        select(TradingAccount).where(TradingAccount.client_id == client_id).order_by(TradingAccount.id)
    )
    return list(rows)


async def apply_command_result(
    session: AsyncSession, command: ClaimedCommand, result: dict[str, Any]
) -> None:
    """What a done command changes in the CRM (called in the transaction that records it)."""
    if command.trading_account_id is None or command.kind is CommandKind.BALANCE_OPERATION:
        return
    account = await _get(session, TradingAccount, command.trading_account_id)
    if command.kind is CommandKind.CREATE_ACCOUNT:
        account.login = int(result["login"])
        account.status = TradingAccountStatus.ACTIVE
        record_event(
            session,
            EventKind.ACCOUNT_OPENED,
            trading_account_id=account.id,
            client_id=account.client_id,
            server_id=account.server_id,
            login=account.login,
            account_type_id=account.account_type_id,
            currency=account.currency,
            is_demo=account.is_demo,
        )
        if not account.is_demo:
            account.ledger_account_id = await open_owner_account(
                session,
                Purpose.TRADING_ACCOUNT,
                ledger_owner_id(account.server_id, account.login),
                account.currency,
            )
            await session.execute(
                update(MirroredDeal)
                .where(MirroredDeal.server_id == account.server_id, MirroredDeal.login == account.login)
                .values(needs_posting=True)
                .execution_options(synchronize_session=False)
            )
        account_type = await _get(session, AccountType, account.account_type_id)
        if account.is_demo and account_type.demo_deposit > 0:
            await request_balance_operation(
                session,
                account.id,
                account_type.demo_deposit,
                request_key=f"demo-funds:{account.id}",
                comment="demo funds",
            )
    elif command.kind is CommandKind.CHANGE_LEVERAGE:
        account.leverage = int(result["leverage"])
    elif command.kind is CommandKind.CHANGE_GROUP:
        account.group_name = str(result["group"])


async def apply_command_failure(session: AsyncSession, command: ClaimedCommand) -> None:
    """A refused account creation leaves the account failed (nothing exists on the server)."""
    if command.kind is CommandKind.CREATE_ACCOUNT and command.trading_account_id is not None:
        account = await _get(session, TradingAccount, command.trading_account_id)
        account.status = TradingAccountStatus.FAILED


async def _active_account(session: AsyncSession, trading_account_id: int, client_id: int) -> TradingAccount:
    account = await session.get(TradingAccount, trading_account_id)
    if account is None or account.client_id != client_id:
        raise NotFoundError(f"no trading account {trading_account_id}")
    if account.status is not TradingAccountStatus.ACTIVE or account.login is None:
        raise AccountRequestError("the trading account is not open")
    return account


async def _get(session: AsyncSession, model: type[T], object_id: int) -> T:
    found = await session.get(model, object_id)
    if found is None:
        raise NotFoundError(f"no {model.__name__} {object_id}")
    return found
