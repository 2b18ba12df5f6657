"""Finance queues: deposits, withdrawals and bank accounts, with filters, safe bulk actions, the
client's balance and KYC level beside each request, and CSV export. Each route declares the
permission it needs; each action is audited by the cashier service it calls.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy import select

from backoffice.cashier_wiring import KYC_GATES
from backoffice.csv_download import csv_response
from backoffice.guards import permission
from backoffice.money import money_formatter
from cashier import bank_accounts, conversions, deposits, withdrawals
from cashier.config import payment_providers, proof_store
from cashier.errors import CashierError
from cashier.history import (
    QueueFilter,
    deposit_queue,
    deposits_csv,
    rows_csv,
    withdrawal_queue,
    withdrawals_csv,
)
from cashier.limits import policy_for_withdrawal
from cashier.models import BankAccount, BankAccountStatus, Deposit
from cashier.money import parse_amount
from cashier.wallets import scale_of, wallet_balances_of
from core.audit.service import record_audit
from core.db import Database
from core.ids import is_id_text, parse_id
from core.storage import StoredFileError
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields, form_list
from core.web.state import app_services
from kyc.models import KycCase

APPROVE_DEPOSIT = "cashier.approve_deposit"
APPROVE_WITHDRAWAL = "cashier.approve_withdrawal"


def queue_filter(request: Request[Any, Any, Any]) -> QueueFilter:
    query = request.query_params
    raw_client = (query.get("client_id") or "").strip()
    return QueueFilter(
        status=(query.get("status") or "").strip()[:32],
        currency=(query.get("currency") or "").strip().upper()[:8],
        client_id=parse_id(raw_client),
        flagged_only=query.get("flagged") == "1",
    )


async def kyc_levels(db: Database, client_ids: list[int]) -> dict[int, str]:
    if not client_ids:
        return {}
    async with db.session() as session:
        rows = await session.execute(
            select(KycCase.client_id, KycCase.level).where(KycCase.client_id.in_(set(client_ids)))
        )
        return {int(client_id): str(level) for client_id, level in rows.all()}


async def queue_context(request: Request[Any, Any, Any], rows: list[Any]) -> dict[str, Any]:
    """What every queue page shows beside the requests: balances, KYC levels, money formatting."""
    services = app_services(request.app)
    client_ids = [row.client_id for row in rows]
    return {
        "rows": rows,
        "balances": await wallet_balances_of(services.database, client_ids),
        "kyc": await kyc_levels(services.database, client_ids),
        "money": await money_formatter(services.database, services.settings.cashier_currency_list),
        "raw": dict(request.query_params),
        "query": request.url.query or "",
        "currencies": services.settings.cashier_currency_list,
    }


class DepositQueueController(Controller):
    path = "/finance/deposits"
    include_in_schema = False
    opt = permission(APPROVE_DEPOSIT)

    @get("/", name="backoffice.finance.deposits")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        rows = await deposit_queue(app_services(request.app).database, queue_filter(request))
        return Template("finance/deposits.html", context=await queue_context(request, rows))

    @get("/export.csv", name="backoffice.finance.deposits.export")
    async def export(self, request: Request[Any, Any, Any]) -> Response[str]:
        services = app_services(request.app)
        filters = queue_filter(request)
        rows = await deposit_queue(services.database, filters, limit=50_000)
        async with services.database.transaction() as session:
            await record_audit(
                session,
                actor_for(request, signed_in(request).user),
                "cashier.deposits_exported",
                after={"filters": {k: str(v) for k, v in vars(filters).items() if v}, "rows": len(rows)},
            )
        return csv_response(deposits_csv(rows), "deposits")

    @get("/{deposit_id:int}/proof", name="backoffice.finance.deposits.proof")
    async def proof(self, request: Request[Any, Any, Any], deposit_id: FromPath[int]) -> Response[bytes]:
        services = app_services(request.app)
        async with services.database.session() as session:
            deposit = await session.get(Deposit, deposit_id)
        if deposit is None or not deposit.proof_file_key:
            return Response(b"No proof for this deposit.", media_type="text/plain", status_code=404)
        try:
            data = proof_store(services.settings).get(deposit.proof_file_key)
        except StoredFileError:
            return Response(b"The stored proof can't be read.", media_type="text/plain", status_code=410)
        return Response(
            data,
            media_type=deposit.proof_content_type or "application/octet-stream",
            headers={"Content-Disposition": f'inline; filename="deposit-{deposit.id}-proof"'},
        )

    @post("/{deposit_id:int}/approve", name="backoffice.finance.deposits.approve")
    async def approve(self, request: Request[Any, Any, Any], deposit_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        db = app_services(request.app).database
        try:
            async with db.session() as session:
                deposit = await session.get(Deposit, deposit_id)
                scale = await scale_of(session, deposit.currency) if deposit else 2
            received = parse_amount(form.get("received_amount", ""), scale)
            await deposits.approve_wire_deposit(
                db, deposit_id, received, actor_for(request, signed_in(request).user), gates=KYC_GATES
            )
        except CashierError as exc:
            flash(request, str(exc), category="error")
        else:
            flash(request, "Deposit credited.", category="success")
        return Redirect("/finance/deposits", status_code=303)

    @post("/{deposit_id:int}/reject", name="backoffice.finance.deposits.reject")
    async def reject(self, request: Request[Any, Any, Any], deposit_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        try:
            await deposits.reject_wire_deposit(
                app_services(request.app).database,
                deposit_id,
                form.get("reason", ""),
                actor_for(request, signed_in(request).user),
            )
        except CashierError as exc:
            flash(request, str(exc), category="error")
        else:
            flash(request, "Deposit rejected.", category="success")
        return Redirect("/finance/deposits", status_code=303)


class WithdrawalQueueController(Controller):
    path = "/finance/withdrawals"
    include_in_schema = False
    opt = permission(APPROVE_WITHDRAWAL)

    @get("/", name="backoffice.finance.withdrawals")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        rows = await withdrawal_queue(app_services(request.app).database, queue_filter(request))
        context = await queue_context(request, rows)
        context["four_eyes_from"] = app_services(request.app).settings.withdrawal_four_eyes_minor
        return Template("finance/withdrawals.html", context=context)

    @get("/export.csv", name="backoffice.finance.withdrawals.export")
    async def export(self, request: Request[Any, Any, Any]) -> Response[str]:
        services = app_services(request.app)
        filters = queue_filter(request)
        rows = await withdrawal_queue(services.database, filters, limit=50_000)
        async with services.database.transaction() as session:
            await record_audit(
                session,
                actor_for(request, signed_in(request).user),
                "cashier.withdrawals_exported",
                after={"filters": {k: str(v) for k, v in vars(filters).items() if v}, "rows": len(rows)},
            )
        return csv_response(withdrawals_csv(rows), "withdrawals")

    async def _act(
        self, request: Request[Any, Any, Any], withdrawal_id: int, action: str, form: dict[str, str]
    ) -> str:
        services = app_services(request.app)
        actor = actor_for(request, signed_in(request).user)
        db = services.database
        if action == "approve":
            policy = await policy_for_withdrawal(db, services.settings, withdrawal_id)
            result = await withdrawals.approve_withdrawal(db, withdrawal_id, policy, actor)
        elif action == "reject":
            result = await withdrawals.reject_withdrawal(db, withdrawal_id, form.get("reason", ""), actor)
        elif action == "mark-paid":
            result = await withdrawals.mark_paid_by_wire(db, withdrawal_id, form.get("reference", ""), actor)
        else:
            psp = payment_providers(services.settings)["sandbox"]
            result = await withdrawals.pay_via_psp(db, psp, withdrawal_id, actor)
        return result.status

    @post("/{withdrawal_id:int}/{action:str}", name="backoffice.finance.withdrawals.act")
    async def act(
        self, request: Request[Any, Any, Any], withdrawal_id: FromPath[int], action: FromPath[str]
    ) -> Redirect:
        if action not in {"approve", "reject", "mark-paid", "pay"}:
            flash(request, "Unknown action.", category="error")
            return Redirect("/finance/withdrawals", status_code=303)
        try:
            status = await self._act(request, withdrawal_id, action, await form_fields(request))
        except CashierError as exc:
            flash(request, str(exc), category="error")
        else:
            flash(request, f"Withdrawal {withdrawal_id}: {status}.", category="success")
        return Redirect("/finance/withdrawals", status_code=303)

    @post("/bulk-approve", name="backoffice.finance.withdrawals.bulk_approve")
    async def bulk_approve(self, request: Request[Any, Any, Any]) -> Redirect:
        """Approve several at once. Safe because each goes through the same service: four eyes,
        the same-approver rule and the status checks still apply to every one of them."""
        done, refused = 0, 0
        for raw in await form_list(request, "ids"):
            if not is_id_text(raw):
                continue
            try:
                await self._act(request, int(raw), "approve", {})
                done += 1
            except CashierError:
                refused += 1
        flash(request, f"Approved {done}; {refused} could not be approved.", category="success")
        return Redirect("/finance/withdrawals", status_code=303)


class BankAccountQueueController(Controller):
    path = "/finance/bank-accounts"
    include_in_schema = False
    opt = permission(APPROVE_WITHDRAWAL)

    @get("/", name="backoffice.finance.bank_accounts")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        status = (request.query_params.get("status") or BankAccountStatus.UNVERIFIED).strip()[:16]
        async with app_services(request.app).database.session() as session:
            rows = list(
                await session.scalars(
                    select(BankAccount)
                    .where(BankAccount.status == status)
                    .order_by(BankAccount.id)
                    .limit(500)
                )
            )
        return Template("finance/bank_accounts.html", context={"rows": rows, "status": status})

    @post("/{account_id:int}/{action:str}", name="backoffice.finance.bank_accounts.act")
    async def act(
        self, request: Request[Any, Any, Any], account_id: FromPath[int], action: FromPath[str]
    ) -> Redirect:
        db = app_services(request.app).database
        actor = actor_for(request, signed_in(request).user)
        try:
            if action == "verify":
                await bank_accounts.verify_bank_account(db, account_id, actor)
            elif action == "reject":
                await bank_accounts.reject_bank_account(db, account_id, actor)
            else:
                raise CashierError("Unknown action.")
        except CashierError as exc:
            flash(request, str(exc), category="error")
        return Redirect("/finance/bank-accounts", status_code=303)


class TransferQueueController(Controller):
    """Internal transfers and conversions, each with the rate and spread it used (read and export)."""

    path = "/finance/transfers"
    include_in_schema = False
    opt = permission(APPROVE_WITHDRAWAL)

    @get("/", name="backoffice.finance.transfers")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        rows = await conversions.transfer_queue(
            app_services(request.app).database, queue_filter(request).client_id
        )
        return Template("finance/transfers.html", context=await queue_context(request, rows))

    @get("/export.csv", name="backoffice.finance.transfers.export")
    async def export(self, request: Request[Any, Any, Any]) -> Response[str]:
        services = app_services(request.app)
        rows = await conversions.transfer_queue(
            services.database, queue_filter(request).client_id, limit=50_000
        )
        async with services.database.transaction() as session:
            await record_audit(
                session,
                actor_for(request, signed_in(request).user),
                "cashier.transfers_exported",
                after={"rows": len(rows)},
            )
        body = rows_csv(
            [
                "id",
                "client_id",
                "kind",
                "from_amount",
                "from_currency",
                "to_amount",
                "to_currency",
                "spread_amount",
                "rate_id",
                "rate",
                "spread",
                "status",
                "created_at",
            ],
            [
                [
                    t.id,
                    t.client_id,
                    t.kind,
                    t.from_amount,
                    t.from_currency,
                    t.to_amount,
                    t.to_currency,
                    t.spread_amount,
                    t.rate_id,
                    t.rate,
                    t.spread,
                    t.status,
                    t.created_at.isoformat(),
                ]
                for t in rows
            ],
        )
        return csv_response(body, "transfers")
