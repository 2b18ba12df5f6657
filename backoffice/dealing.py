"""Dealing screens: the product catalogue (servers, groups, account types, symbols), the approval
queue of live accounts and leverage changes, bridge command failures, and reconciliation
differences. Handlers parse, call :mod:`mt_bridge`, audit in the same transaction, and render.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.dealing_catalogue import CATALOGUES, Catalogue, load_names
from backoffice.dealing_forms import PASSWORD, field_choices, parse_form, shown_value
from backoffice.guards import permission
from backoffice.money import money_formatter
from cashier.money import format_amount
from core.audit.service import record_audit
from core.errors import NotFoundError
from core.identity.models import User
from core.mail.outbox import queue_mail
from core.secrets_box import SecretsBox
from core.web.auth import actor_for, signed_in
from core.web.forms import error_text, form_fields
from core.web.state import app_services
from mt_bridge import accounts, command_admin
from mt_bridge.errors import MtBridgeError
from mt_bridge.models import AccountType, Command, CommandKind, CommandStatus, TradingAccount, TradingServer
from mt_bridge.products import product_snapshot
from mt_bridge.reconciliation import latest_runs

DEALING = "dealing.manage"
DECISION_MAIL = "trading_request_decided"
APPROVE_ACCOUNTS = "accounts.approve"


def _catalogue(kind: str) -> Catalogue:
    found = CATALOGUES.get(kind)
    if found is None:
        raise NotFoundError(f"no product list {kind!r}")
    return found


def _audit_values(catalogue: Catalogue, product: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The product's columns, plus a masked mark when a new password was given."""
    snapshot = product_snapshot(product)
    for field in catalogue.fields:
        if field.kind == PASSWORD and values.get(field.name):
            snapshot[field.name] = "changed"
    return snapshot


class ProductCatalogueController(Controller):
    """One list-and-form page per kind of product, and an edit page per product."""

    path = "/products"
    include_in_schema = False
    opt = permission(DEALING)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        catalogue: Catalogue,
        form: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        async with app_services(request.app).database.session() as session:
            names = await load_names(session)
            query = select(catalogue.model).order_by(catalogue.order_by).limit(1000)
            rows = list(await session.scalars(query))
            choices = await field_choices(session, catalogue.fields)
        defaults = {field.name: field.default for field in catalogue.fields}
        return {
            "catalogue": catalogue,
            "catalogues": CATALOGUES.values(),
            "rows": [(row.id, [getter(row, names) for _h, getter in catalogue.columns]) for row in rows],  # type: ignore[attr-defined]
            "choices": choices,
            "values": form if form is not None else defaults,
            **extra,
        }

    @get("/{kind:str}", name="backoffice.products")
    async def listing(self, request: Request[Any, Any, Any], kind: FromPath[str]) -> Template:
        catalogue = _catalogue(kind)
        return Template("dealing/catalogue.html", context=await self._page(request, catalogue))

    @post("/{kind:str}", name="backoffice.products.create")
    async def create(self, request: Request[Any, Any, Any], kind: FromPath[str]) -> Template | Redirect:
        catalogue = _catalogue(kind)
        form = await form_fields(request)
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                values = await parse_form(session, catalogue.fields, form, creating=True)
                product = await catalogue.create(session, SecretsBox.from_settings(services.settings), values)
                await record_audit(
                    session,
                    actor_for(request, signed_in(request).user),
                    f"dealing.{catalogue.noun}_created",
                    target_type=product.__tablename__,
                    target_id=product.id,  # type: ignore[attr-defined]
                    after=_audit_values(catalogue, product, values),
                )
        except MtBridgeError as exc:
            kept = {
                k: v
                for k, v in form.items()
                if k not in {f.name for f in catalogue.fields if f.kind == PASSWORD}
            }
            context = await self._page(request, catalogue, kept, error=error_text(exc))
            return Template("dealing/catalogue.html", context=context, status_code=400)
        flash(request, "Saved.", category="success")
        return Redirect(f"/products/{catalogue.slug}", status_code=303)

    async def _item(
        self,
        request: Request[Any, Any, Any],
        catalogue: Catalogue,
        item_id: int,
        form: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        async with app_services(request.app).database.session() as session:
            product = await session.get(catalogue.model, item_id)
            if product is None:
                raise NotFoundError(f"no {catalogue.noun} {item_id}")
            names = await load_names(session)
            choices = await field_choices(session, catalogue.fields)
        stored = {
            field.name: shown_value(field, getattr(product, field.name, None)) for field in catalogue.fields
        }
        stored.update(catalogue.shown(product, names))
        return {
            "catalogue": catalogue,
            "product": product,
            "choices": choices,
            "values": {**stored, **(form or {})},
            "stored": stored,
            **extra,
        }

    @get("/{kind:str}/{item_id:int}", name="backoffice.products.item")
    async def item(
        self, request: Request[Any, Any, Any], kind: FromPath[str], item_id: FromPath[int]
    ) -> Template:
        context = await self._item(request, _catalogue(kind), item_id)
        return Template("dealing/item.html", context=context)

    @post("/{kind:str}/{item_id:int}", name="backoffice.products.update")
    async def update(
        self, request: Request[Any, Any, Any], kind: FromPath[str], item_id: FromPath[int]
    ) -> Template | Redirect:
        catalogue = _catalogue(kind)
        form = await form_fields(request)
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                product = await session.get(catalogue.model, item_id)
                if product is None:
                    raise NotFoundError(f"no {catalogue.noun} {item_id}")
                before = product_snapshot(product)
                values = await parse_form(session, catalogue.fields, form, creating=False)
                product = await catalogue.update(
                    session, SecretsBox.from_settings(services.settings), item_id, values
                )
                await session.flush()
                await record_audit(
                    session,
                    actor_for(request, signed_in(request).user),
                    f"dealing.{catalogue.noun}_updated",
                    target_type=product.__tablename__,
                    target_id=item_id,
                    before=before,
                    after=_audit_values(catalogue, product, values),
                )
        except MtBridgeError as exc:
            kept = {
                k: v
                for k, v in form.items()
                if k not in {f.name for f in catalogue.fields if f.kind == PASSWORD}
            }
            context = await self._item(request, catalogue, item_id, kept, error=error_text(exc))
            return Template("dealing/item.html", context=context, status_code=400)
        flash(request, "Saved.", category="success")
        return Redirect(f"/products/{catalogue.slug}", status_code=303)


CommandChange = Callable[[AsyncSession, Command], Awaitable[object]]


async def act_on_command(
    request: Request[Any, Any, Any], command_id: int, action: str, change: CommandChange, back_to: str
) -> Redirect:
    """Apply a staff decision to one outbox command and audit it (before/after status) in the
    same transaction; a refusal (wrong status, may be applied) is shown and changes nothing."""
    me = signed_in(request)
    try:
        async with app_services(request.app).database.transaction() as session:
            command = await session.get(Command, command_id)
            if command is None:
                raise NotFoundError(f"no command {command_id}")
            before = {"status": command.status.value, "maybe_applied": command.maybe_applied}
            await change(session, command)
            await record_audit(
                session,
                actor_for(request, me.user),
                f"dealing.command_{action}",
                target_type="mt_command",
                target_id=command_id,
                before=before,
                after={
                    "status": command.status.value,
                    "kind": command.kind.value,
                    "trading_account_id": command.trading_account_id,
                    "last_error": command.last_error,
                },
            )
    except MtBridgeError as exc:
        flash(request, error_text(exc), category="error")
    else:
        flash(request, f"Command {command_id}: {action}.", category="success")
    return Redirect(back_to, status_code=303)


async def tell_client(session: AsyncSession, command: Command, *, approved: bool, reason: str = "") -> None:
    """Mail the client the decision on their account opening or leverage change, in their language."""
    account = await session.get(TradingAccount, command.trading_account_id or 0)
    client = await session.get(User, account.client_id) if account is not None else None
    if account is None or client is None:
        return
    await queue_mail(
        session,
        client.email,
        DECISION_MAIL,
        client.language,
        {
            "approved": approved,
            "opening": command.kind is CommandKind.CREATE_ACCOUNT,
            "login": command.payload.get("login", account.login),
            "leverage": command.payload.get("leverage", account.leverage),
            "reason": reason,
        },
    )


async def command_rows(session: AsyncSession, commands: list[Command]) -> list[dict[str, Any]]:
    """Each command with its trading account, account type, server and client, for the queues."""
    account_ids = {c.trading_account_id for c in commands if c.trading_account_id is not None}
    found = await session.scalars(select(TradingAccount).where(TradingAccount.id.in_(account_ids)))
    by_id = {account.id: account for account in found}
    types = {t.id: t for t in await session.scalars(select(AccountType))}
    servers = {s.id: s.name for s in await session.scalars(select(TradingServer))}
    client_ids = {account.client_id for account in by_id.values()}
    users = await session.execute(select(User.id, User.email).where(User.id.in_(client_ids)))
    emails = {row.id: row.email for row in users}
    rows = []
    for command in commands:
        account = by_id.get(command.trading_account_id or 0)
        account_type = types.get(account.account_type_id) if account else None
        rows.append(
            {
                "command": command,
                "account": account,
                "account_type": account_type,
                "server": servers.get(command.server_id, ""),
                "client": emails.get(account.client_id, account.client_id) if account else "",
                "amount": (
                    format_amount(int(command.payload["amount"]), int(command.payload["currency_digits"]))
                    if "amount" in command.payload
                    else ""
                ),
            }
        )
    return rows


async def _queue(request: Request[Any, Any, Any], status: CommandStatus) -> list[dict[str, Any]]:
    async with app_services(request.app).database.session() as session:
        commands = await command_admin.commands_needing_attention(session, statuses=(status,))
        return await command_rows(session, commands)


class AccountApprovalController(Controller):
    """Live accounts of types that need approval, and leverage changes above the automatic limit."""

    path = "/dealing/approvals"
    include_in_schema = False
    opt = permission(APPROVE_ACCOUNTS)

    @get("/", name="backoffice.dealing.approvals")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        rows = await _queue(request, CommandStatus.AWAITING_APPROVAL)
        return Template("dealing/approvals.html", context={"rows": rows})

    @post("/{command_id:int}/approve", name="backoffice.dealing.approvals.approve")
    async def approve(self, request: Request[Any, Any, Any], command_id: FromPath[int]) -> Redirect:
        staff_id = signed_in(request).user.id

        async def change(session: AsyncSession, command: Command) -> object:
            await accounts.approve_command(session, command.id, staff_id)
            await tell_client(session, command, approved=True)
            return command

        return await act_on_command(request, command_id, "approved", change, "/dealing/approvals")

    @post("/{command_id:int}/reject", name="backoffice.dealing.approvals.reject")
    async def reject(self, request: Request[Any, Any, Any], command_id: FromPath[int]) -> Redirect:
        staff_id = signed_in(request).user.id
        reason = (await form_fields(request)).get("reason", "").strip()
        if not reason:
            flash(request, "Give a reason for the rejection.", category="error")
            return Redirect("/dealing/approvals", status_code=303)

        async def change(session: AsyncSession, command: Command) -> object:
            await accounts.reject_command(session, command.id, staff_id, reason)
            await tell_client(session, command, approved=False, reason=reason)
            return command

        return await act_on_command(request, command_id, "rejected", change, "/dealing/approvals")


class BridgeCommandController(Controller):
    """Outbox commands a server refused (or that ran out of attempts): retry or cancel each."""

    path = "/dealing/commands"
    include_in_schema = False
    opt = permission(DEALING)

    @get("/", name="backoffice.dealing.commands")
    async def failures(self, request: Request[Any, Any, Any]) -> Template:
        rows = await _queue(request, CommandStatus.FAILED)
        return Template("dealing/commands.html", context={"rows": rows})

    @post("/{command_id:int}/retry", name="backoffice.dealing.commands.retry")
    async def retry(self, request: Request[Any, Any, Any], command_id: FromPath[int]) -> Redirect:
        async def change(session: AsyncSession, command: Command) -> object:
            return await command_admin.retry_command(session, command.id)

        return await act_on_command(request, command_id, "retried", change, "/dealing/commands")

    @post("/{command_id:int}/cancel", name="backoffice.dealing.commands.cancel")
    async def cancel(self, request: Request[Any, Any, Any], command_id: FromPath[int]) -> Redirect:
        reason = (await form_fields(request)).get("reason", "").strip() or "cancelled by staff"
        actor = signed_in(request).user.email

        async def change(session: AsyncSession, command: Command) -> object:
            return await command_admin.cancel_command(session, command.id, f"{reason} ({actor})")

        return await act_on_command(request, command_id, "cancelled", change, "/dealing/commands")


class ReconciliationController(Controller):
    """Each server's latest comparison of ledger and server balances, and what still differs."""

    path = "/dealing/reconciliation"
    include_in_schema = False
    opt = permission(DEALING)

    @get("/", name="backoffice.dealing.reconciliation")
    async def differences(self, request: Request[Any, Any, Any]) -> Template:
        db = app_services(request.app).database
        async with db.session() as session:
            runs = await latest_runs(session)
            servers = {s.id: s.name for s in await session.scalars(select(TradingServer))}
        money = await money_formatter(db, {d.currency for run in runs for d in run.differences})
        context = {"runs": runs, "servers": servers, "money": money}
        return Template("dealing/reconciliation.html", context=context)
