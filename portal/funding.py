"""The client's funding pages: wallets and history, deposits (PSP and wire), withdrawals, bank
accounts and statements. Handlers read the form, call :mod:`cashier`, and render; every money form
carries an idempotency key generated when it renders, and every money action is rate-limited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from cashier import bank_accounts, conversions, deposits, internal_transfers, withdrawals
from cashier.bank_details import load_bank_details
from cashier.config import payment_providers, proof_store
from cashier.errors import CashierError, NotFoundError
from cashier.fees import load_fees
from cashier.history import funding_history
from cashier.limits import current_limits, current_withdrawal_policy
from cashier.models import DestinationKind, TransferKind
from cashier.money import parse_amount
from cashier.statements import statement_csv
from cashier.wallets import client_wallets, require_currency, scale_of
from cashier.withdrawals import Destination
from core.ids import is_id_text, parse_id
from core.money import MoneyFormat
from core.web.auth import (
    SIGN_IN_HANDLERS,
    TOO_MANY,
    actor_for,
    new_idempotency_key,
    over_money_limit,
    requires_sign_in,
    signed_in,
)
from core.web.forms import form_fields
from core.web.state import app_services
from ledger.fx import currency_scales
from portal.cashier_wiring import KYC_GATES


async def money_formatter(request: Request[Any, Any, Any]) -> Any:
    settings = app_services(request.app).settings
    async with app_services(request.app).database.session() as session:
        scales = await currency_scales(session, *settings.cashier_currency_list)
    return MoneyFormat(scales)


async def parse_money(request: Request[Any, Any, Any], raw_amount: str, raw_currency: str) -> tuple[str, int]:
    services = app_services(request.app)
    currency = require_currency(services.settings, raw_currency)
    async with services.database.read_session() as session:
        scale = await scale_of(session, currency)
    return currency, parse_amount(raw_amount, scale)


def _day(raw: str | None, fallback: date) -> date:
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        return fallback


class FundingController(Controller):
    """Signed-in clients only; each page shows the client's own money and nobody else's."""

    path = "/funding"
    include_in_schema = False
    guards = [requires_sign_in]
    exception_handlers = SIGN_IN_HANDLERS

    async def _overview(self, request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
        me = signed_in(request)
        db = app_services(request.app).database
        return {
            "wallets": await client_wallets(db, me.user.id),
            "trading_accounts": await internal_transfers.client_trading_accounts(db, me.user.id),
            "transfers": await conversions.transfer_queue(db, me.user.id, limit=50),
            "history": await funding_history(db, me.user.id),
            "money": await money_formatter(request),
            "currencies": app_services(request.app).settings.cashier_currency_list,
            "today": date.today().isoformat(),
            "month_ago": (date.today() - timedelta(days=30)).isoformat(),
            **extra,
        }

    @get("/", name="portal.funding")
    async def overview(self, request: Request[Any, Any, Any]) -> Template:
        return Template("funding/index.html", context=await self._overview(request))

    async def _deposit_context(self, request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
        services = app_services(request.app)
        settings = services.settings
        async with services.database.session() as session:
            banks = await load_bank_details(session, settings)
            fees = await load_fees(session, settings)
            scales = await currency_scales(session, *settings.cashier_currency_list)
        client_id = signed_in(request).user.id
        return {
            "currencies": settings.cashier_currency_list,
            "card_key": new_idempotency_key(),
            "wire_key": new_idempotency_key(),
            "banks": list(banks.values()),
            "client_id": client_id,
            "fees": fees,
            "fee_money": MoneyFormat(scales),
            **extra,
        }

    @get("/deposit", name="portal.funding.deposit")
    async def deposit_form(self, request: Request[Any, Any, Any]) -> Template:
        return Template("funding/deposit.html", context=await self._deposit_context(request))

    @post("/deposit/card", name="portal.funding.deposit.card")
    async def deposit_card(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        if await over_money_limit(request, "deposit"):
            context = await self._deposit_context(request, error=TOO_MANY)
            return Template("funding/deposit.html", context=context, status_code=429)
        services = app_services(request.app)
        me = signed_in(request)
        psp = payment_providers(services.settings)["sandbox"]
        base = services.settings.public_portal_url
        try:
            currency, amount = await parse_money(request, form.get("amount", ""), form.get("currency", ""))
            deposit = await deposits.start_psp_deposit(
                services.database,
                psp,
                KYC_GATES,
                client_id=me.user.id,
                currency=currency,
                amount=amount,
                idempotency_key=form.get("idempotency_key", ""),
                actor=actor_for(request, me.user),
                return_url=f"{base}/funding/deposit/return",
                callback_url=f"{base}/cashier/psp/{psp.name}/webhook",
                limits=await current_limits(services.database, services.settings, currency),
            )
        except CashierError as exc:
            context = await self._deposit_context(request, error=str(exc), amount=form.get("amount", ""))
            return Template("funding/deposit.html", context=context, status_code=400)
        if deposit.hosted_url and deposit.status == "awaiting_payment":
            return Redirect(deposit.hosted_url, status_code=303)
        flash(request, "This deposit was already submitted.", category="info")
        return Redirect("/funding", status_code=303)

    @get("/deposit/return", name="portal.funding.deposit.return")
    async def deposit_return(self) -> Template:
        """Where the PSP sends the client back; the money is credited when the PSP confirms it."""
        return Template("funding/deposit_return.html")

    @post("/deposit/wire", name="portal.funding.deposit.wire")
    async def deposit_wire(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await request.form()
        if await over_money_limit(request, "deposit"):
            context = await self._deposit_context(request, error=TOO_MANY)
            return Template("funding/deposit.html", context=context, status_code=429)
        services = app_services(request.app)
        me = signed_in(request)
        upload = form.get("proof")
        data = (
            await upload.read(services.settings.max_upload_bytes + 1)
            if isinstance(upload, UploadFile)
            else b""
        )
        try:
            currency, amount = await parse_money(
                request, str(form.get("amount", "")), str(form.get("currency", ""))
            )
            await deposits.submit_wire_deposit(
                services.database,
                proof_store(services.settings),
                KYC_GATES,
                client_id=me.user.id,
                currency=currency,
                amount=amount,
                proof=data,
                max_bytes=services.settings.max_upload_bytes,
                idempotency_key=str(form.get("idempotency_key", "")),
                actor=actor_for(request, me.user),
                limits=await current_limits(services.database, services.settings, currency),
            )
        except CashierError as exc:
            context = await self._deposit_context(request, wire_error=str(exc))
            return Template("funding/deposit.html", context=context, status_code=400)
        flash(
            request, "Thank you. Finance will credit your wallet when the wire arrives.", category="success"
        )
        return Redirect("/funding", status_code=303)

    async def _withdraw_context(self, request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
        me = signed_in(request)
        services = app_services(request.app)
        accounts = await bank_accounts.client_bank_accounts(services.database, me.user.id)
        async with services.database.session() as session:
            fees = await load_fees(session, services.settings)
        return {
            "fees": fees,
            "currencies": services.settings.cashier_currency_list,
            "accounts": [account for account in accounts if account.status == "verified"],
            "psps": sorted(payment_providers(services.settings)),
            "idempotency_key": new_idempotency_key(),
            "wallets": await client_wallets(services.database, me.user.id),
            "money": await money_formatter(request),
            **extra,
        }

    @get("/withdraw", name="portal.funding.withdraw")
    async def withdraw_form(self, request: Request[Any, Any, Any]) -> Template:
        return Template("funding/withdraw.html", context=await self._withdraw_context(request))

    @post("/withdraw", name="portal.funding.withdraw.submit")
    async def withdraw(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        if await over_money_limit(request, "withdraw"):
            return Template(
                "funding/withdraw.html",
                context=await self._withdraw_context(request, error=TOO_MANY),
                status_code=429,
            )
        services = app_services(request.app)
        me = signed_in(request)
        kind, _, target = form.get("destination", "").partition(":")
        destination = (
            Destination(DestinationKind.BANK_ACCOUNT, bank_account_id=int(target))
            if kind == "bank" and is_id_text(target)
            else Destination(DestinationKind.PSP, psp=target)
        )
        try:
            currency, amount = await parse_money(request, form.get("amount", ""), form.get("currency", ""))
            await withdrawals.request_withdrawal(
                services.database,
                KYC_GATES,
                await current_withdrawal_policy(services.database, services.settings, currency),
                client_id=me.user.id,
                currency=currency,
                amount=amount,
                destination=destination,
                idempotency_key=form.get("idempotency_key", ""),
                actor=actor_for(request, me.user),
            )
        except CashierError as exc:
            context = await self._withdraw_context(request, error=str(exc), amount=form.get("amount", ""))
            return Template("funding/withdraw.html", context=context, status_code=400)
        flash(request, "Your withdrawal request is waiting for approval.", category="success")
        return Redirect("/funding", status_code=303)

    @post("/withdrawals/{withdrawal_id:int}/cancel", name="portal.funding.withdrawal.cancel")
    async def cancel(self, request: Request[Any, Any, Any], withdrawal_id: FromPath[int]) -> Redirect:
        me = signed_in(request)
        try:
            await withdrawals.cancel_withdrawal(
                app_services(request.app).database, withdrawal_id, me.user.id, actor_for(request, me.user)
            )
        except NotFoundError as exc:  # not there, or another client's: the same answer
            raise NotFoundException() from exc
        except CashierError as exc:
            flash(request, str(exc), category="error")
        else:
            flash(
                request,
                "The withdrawal is cancelled and the money is back in your wallet.",
                category="success",
            )
        return Redirect("/funding", status_code=303)

    async def _convert_context(self, request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
        services = app_services(request.app)
        return {
            "currencies": services.settings.cashier_currency_list,
            "wallets": await client_wallets(services.database, signed_in(request).user.id),
            "money": await money_formatter(request),
            **extra,
        }

    @get("/convert", name="portal.funding.convert")
    async def convert_form(self, request: Request[Any, Any, Any]) -> Template:
        return Template("funding/convert.html", context=await self._convert_context(request))

    @post("/convert/quote", name="portal.funding.convert.quote")
    async def convert_quote(self, request: Request[Any, Any, Any]) -> Template:
        """Show the rate, the spread and both amounts before anything moves."""
        form = await form_fields(request)
        services = app_services(request.app)
        try:
            sell, amount = await parse_money(request, form.get("amount", ""), form.get("sell", ""))
            buy = require_currency(services.settings, form.get("buy", ""))
            priced = await conversions.quote_conversion(
                services.database, sell_currency=sell, buy_currency=buy, sell_amount=amount
            )
        except CashierError as exc:
            context = await self._convert_context(request, error=str(exc))
            return Template("funding/convert.html", context=context, status_code=400)
        context = await self._convert_context(
            request, priced=priced, amount_text=form.get("amount", ""), idempotency_key=new_idempotency_key()
        )
        return Template("funding/convert.html", context=context)

    @post("/convert", name="portal.funding.convert.submit")
    async def convert(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        if await over_money_limit(request, "convert"):
            return Template(
                "funding/convert.html",
                context=await self._convert_context(request, error=TOO_MANY),
                status_code=429,
            )
        services = app_services(request.app)
        me = signed_in(request)
        try:
            sell, amount = await parse_money(request, form.get("amount", ""), form.get("sell", ""))
            buy = require_currency(services.settings, form.get("buy", ""))
            raw_rate = form.get("rate_id", "")
            done = await conversions.convert(
                services.database,
                client_id=me.user.id,
                sell_currency=sell,
                buy_currency=buy,
                sell_amount=amount,
                rate_id=parse_id(raw_rate) or 0,
                idempotency_key=form.get("idempotency_key", ""),
                actor=actor_for(request, me.user),
            )
        except CashierError as exc:
            context = await self._convert_context(request, error=str(exc))
            return Template("funding/convert.html", context=context, status_code=400)
        money = await money_formatter(request)
        flash(
            request,
            f"Converted {money(done.from_amount, done.from_currency)}"
            f" to {money(done.to_amount, done.to_currency)}"
            f" at {done.rate} (spread {done.spread}).",
            category="success",
        )
        return Redirect("/funding", status_code=303)

    async def _transfer_context(self, request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
        db = app_services(request.app).database
        me = signed_in(request)
        accounts = await internal_transfers.client_trading_accounts(db, me.user.id)
        return {
            "accounts": [a for a in accounts if a.status == "active" and not a.is_demo],
            "wallets": await client_wallets(db, me.user.id),
            "money": await money_formatter(request),
            "idempotency_key": new_idempotency_key(),
            **extra,
        }

    @get("/transfer", name="portal.funding.transfer")
    async def transfer_form(self, request: Request[Any, Any, Any]) -> Template:
        return Template("funding/transfer.html", context=await self._transfer_context(request))

    @post("/transfer", name="portal.funding.transfer.submit")
    async def transfer(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        """``from``/``to``: ``wallet`` or ``account:<id>``; the wallet side uses the account currency."""
        form = await form_fields(request)
        if await over_money_limit(request, "transfer"):
            context = await self._transfer_context(request, error=TOO_MANY)
            return Template("funding/transfer.html", context=context, status_code=429)
        services = app_services(request.app)
        me = signed_in(request)
        source, target = form.get("from", ""), form.get("to", "")
        source_id = parse_id(source[8:]) if source.startswith("account:") else None
        target_id = parse_id(target[8:]) if target.startswith("account:") else None
        kind = (
            TransferKind.BETWEEN_TRADING
            if source_id and target_id
            else TransferKind.FROM_TRADING
            if source_id
            else TransferKind.TO_TRADING
        )
        try:
            account_id = source_id or target_id
            currency = next(
                (
                    a.currency
                    for a in await internal_transfers.client_trading_accounts(services.database, me.user.id)
                    if a.id == account_id
                ),
                "",
            )
            _currency, amount = await parse_money(request, form.get("amount", ""), currency)
            await internal_transfers.request_transfer(
                services.database,
                client_id=me.user.id,
                kind=kind,
                amount=amount,
                idempotency_key=form.get("idempotency_key", ""),
                actor=actor_for(request, me.user),
                from_trading_account_id=source_id,
                to_trading_account_id=target_id,
            )
        except CashierError as exc:
            context = await self._transfer_context(request, error=str(exc), amount=form.get("amount", ""))
            return Template("funding/transfer.html", context=context, status_code=400)
        flash(
            request,
            "Your transfer is on its way; it completes as soon as the trading server confirms it.",
            category="success",
        )
        return Redirect("/funding", status_code=303)

    @get("/bank-accounts", name="portal.funding.bank_accounts")
    async def bank_accounts_page(self, request: Request[Any, Any, Any]) -> Template:
        me = signed_in(request)
        services = app_services(request.app)
        context = {
            "accounts": await bank_accounts.client_bank_accounts(services.database, me.user.id),
            "currencies": services.settings.cashier_currency_list,
        }
        return Template("funding/bank_accounts.html", context=context)

    @post("/bank-accounts", name="portal.funding.bank_accounts.add")
    async def add_bank_account(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        services = app_services(request.app)
        try:
            await bank_accounts.add_bank_account(
                services.database,
                client_id=me.user.id,
                holder_name=form.get("holder_name", ""),
                country=form.get("country", ""),
                number=form.get("number", ""),
                bic=form.get("bic", ""),
                bank_name=form.get("bank_name", ""),
                currency=require_currency(services.settings, form.get("currency", "")),
                actor=actor_for(request, me.user),
            )
        except CashierError as exc:
            context = {
                "accounts": await bank_accounts.client_bank_accounts(services.database, me.user.id),
                "currencies": services.settings.cashier_currency_list,
                "error": str(exc),
                "form": {k: v for k, v in form.items() if k != "number"},
            }
            return Template("funding/bank_accounts.html", context=context, status_code=400)
        flash(
            request, "Bank account saved. We will verify it before the first withdrawal.", category="success"
        )
        return Redirect("/funding/bank-accounts", status_code=303)

    @post("/bank-accounts/{account_id:int}/remove", name="portal.funding.bank_accounts.remove")
    async def remove_bank_account(
        self, request: Request[Any, Any, Any], account_id: FromPath[int]
    ) -> Redirect:
        me = signed_in(request)
        try:
            await bank_accounts.remove_bank_account(
                app_services(request.app).database, account_id, me.user.id, actor_for(request, me.user)
            )
        except NotFoundError as exc:  # not there, or another client's: the same answer
            raise NotFoundException() from exc
        return Redirect("/funding/bank-accounts", status_code=303)

    @get("/statement.csv", name="portal.funding.statement")
    async def statement(
        self,
        request: Request[Any, Any, Any],
        currency: FromQuery[str] = "USD",
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
    ) -> Response[str]:
        me = signed_in(request)
        services = app_services(request.app)
        today = date.today()
        first = _day(start, today - timedelta(days=30))
        last = _day(end, today)
        try:
            code = require_currency(services.settings, currency)
        except CashierError as exc:
            return Response(str(exc), media_type="text/plain; charset=utf-8", status_code=400)
        body = await statement_csv(
            services.database,
            me.user.id,
            code,
            datetime.combine(first, datetime.min.time(), tzinfo=UTC),
            datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
        )
        filename = f"statement-{code}-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
