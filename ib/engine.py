"""The commission engine: closing deals in, commission lines and ledger postings out, replayably.

One batch runs in one transaction:

1. the batch's trade deals are stored (or, when their fingerprint changed, updated; when the
   server deleted them, marked deleted) in ``ib_deal``; an unchanged redelivery stops here;
2. the changed deals are computed by the pure core (:func:`ib.calculation.calculate`) against the
   network as it stood at each deal's time;
3. the new lines are compared with the stored ones, unique on (deal, beneficiary, rule); a line
   that no longer applies goes to zero rather than away, so its provenance stays;
4. the differences are summed per IB and currency and posted to the ledger in one batch: a gain
   moves expense → IB payable, a loss (a clawback) payable → expense. Each posting carries an
   idempotency key derived from the batch's content, so a redelivered batch replays the original.

Recompute (:mod:`ib.recompute`) runs steps 2-4 over a period through the same function. The
bridge's sync passes reach step 1 through :mod:`ib.bridge_feed`.

Speed: a batch loads the network once, walks the tree once per route (level-1 IB and epoch,
:meth:`ib.network.Network.route`), compiles the scheme once per route and target into a plan
(:class:`ib.calculation.Plan`), keeps new deals in memory instead of reading them back, stores new
deals and lines by COPY on PostgreSQL (the lines streamed while the batch is still being computed)
and posts one ledger batch, with the garbage collector held off until the batch's objects are gone.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import Database
from core.gc_tuning import collector_paused
from core.jobs import enqueue_after_commit
from ib import deals as deal_rows
from ib.calculation import CalculationState, iter_lines
from ib.deal_store import insert_deals
from ib.errors import IbError
from ib.ledger_accounts import expense_account, payable_accounts
from ib.line_store import stored_lines, write_diff
from ib.models import (
    PAID_CPA,
    ClientDeposit,
    CommissionLine,
    PayoutPolicy,
    StoredDeal,
    SymbolSpec,
    TradingAccount,
)
from ib.network import Network
from ib.rounding import units_to_lots
from ib.rules.base import DealFacts, Line
from ib.sessions import posting_session
from ib.snapshot import SQL_CHUNK, among, chunked, load_network
from ib.timeutil import aware
from ledger.errors import ConcurrentPostingError
from ledger.posting import post_batch
from ledger.requests import Journal, posted
from mt_bridge.records import Deal, DealEntry

BATCH_ATTEMPTS = 3
EARN_CODE = "ib.commission"
CLAWBACK_CODE = "ib.clawback"


class PostingRefusedError(IbError):
    """Raised when the ledger refuses a commission posting (a clawback larger than the unpaid
    commission, say); the whole batch is rolled back and left for staff to resolve."""


@dataclass
class Outcome:
    """What a batch (or a recompute) did."""

    stored: int = 0
    unchanged: int = 0
    unknown_login: int = 0
    computed_deals: int = 0
    lines_written: int = 0
    deltas: dict[tuple[int, str], int] = field(default_factory=dict)
    """(partner id, currency) -> amount posted (negative: clawed back)."""
    transfer_ids: list[int] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        """Count ``other`` (a later batch of the same job) in."""
        self.stored += other.stored
        self.unchanged += other.unchanged
        self.unknown_login += other.unknown_login
        self.computed_deals += other.computed_deals
        self.lines_written += other.lines_written
        for key, amount in other.deltas.items():
            self.deltas[key] = self.deltas.get(key, 0) + amount
        self.transfer_ids.extend(other.transfer_ids)


async def process_deals(
    db: Database,
    server: str,
    deals: Sequence[Deal],
    *,
    deleted_tickets: Sequence[int] = (),
    now: datetime | None = None,
) -> Outcome:
    """Run one batch of synced deals (and tickets the server deleted) in a transaction of its own.

    A concurrent run of an overlapping batch loses on a unique constraint and is retried: the retry
    sees the other run's committed rows and finds nothing left to do.
    """
    for attempt in range(BATCH_ATTEMPTS):
        try:
            async with posting_session(db) as session:
                return await process_deals_in(
                    session, server, deals, deleted_tickets=deleted_tickets, now=now
                )
        except (IntegrityError, ConcurrentPostingError):
            if attempt == BATCH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def process_deals_in(
    session: AsyncSession,
    server: str,
    deals: Sequence[Deal],
    *,
    deleted_tickets: Sequence[int] = (),
    now: datetime | None = None,
) -> Outcome:
    """:func:`process_deals` inside the caller's posting transaction."""
    now = now or utcnow()
    outcome = Outcome()
    latest: dict[int, Deal] = {}
    for deal in deals:
        if deal.is_trade:
            latest[deal.ticket] = deal
    logins = sorted({deal.login for deal in latest.values()})
    owners: dict[int, int] = {}
    accounts: dict[tuple[str, int], tuple[str, str]] = {}
    for condition in among(session, TradingAccount.login, logins):
        rows = await session.execute(
            select(
                TradingAccount.login,
                TradingAccount.client_id,
                TradingAccount.account_type,
                TradingAccount.currency,
            ).where(TradingAccount.server == server, condition)
        )
        for login, client, account_type, currency in rows:
            owners[login] = client
            accounts[(server, login)] = (account_type, currency)
    tickets = sorted(set(latest) | set(deleted_tickets))
    existing: dict[int, tuple[int, str, bool]] = {}
    for condition in among(session, StoredDeal.ticket, tickets):
        stored = await session.execute(
            select(StoredDeal.ticket, StoredDeal.id, StoredDeal.fingerprint, StoredDeal.deleted).where(
                StoredDeal.server == server, condition
            )
        )
        for ticket, deal_id, print_, deleted in stored:
            existing[ticket] = (deal_id, print_, deleted)
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    affected: list[tuple[int, str, str]] = []
    for ticket, deal in latest.items():
        client_id = owners.get(deal.login)
        if client_id is None:
            outcome.unknown_login += 1
            continue
        values = deal_rows.row_values(server, deal, client_id, now)
        found = existing.get(ticket)
        if found is None:
            new_rows.append(values)
        elif found[1] != values["fingerprint"] or found[2]:
            changed_rows.append({"id": found[0], **values})
        else:
            outcome.unchanged += 1
            continue
        affected.append((ticket, "" if found is None else found[1], values["fingerprint"]))
    deleted_ids: list[int] = []
    for ticket in deleted_tickets:
        found = existing.get(ticket)
        if found is not None and not found[2] and ticket not in latest:
            deleted_ids.append(found[0])
            affected.append((ticket, found[1], "deleted"))
    await insert_deals(session, new_rows)
    deal_ids: list[int] = [row["id"] for row in new_rows]
    if changed_rows:
        await session.execute(update(StoredDeal), changed_rows)
        deal_ids.extend(row["id"] for row in changed_rows)
    if deleted_ids:
        await session.execute(
            update(StoredDeal),
            [{"id": deal_id, "deleted": True, "updated_at": now} for deal_id in deleted_ids],
        )
        deal_ids.extend(deleted_ids)
    outcome.stored = len(new_rows) + len(changed_rows) + len(deleted_ids)
    if not deal_ids:
        return outcome
    # New and changed rows are in memory already; only deleted ones are read back.
    held = [*new_rows, *changed_rows, *await load_deal_rows(session, deleted_ids)]
    await compute_and_post(
        session,
        deal_ids,
        key_scope=("engine", server, sorted(affected)),
        now=now,
        outcome=outcome,
        rows=held,
        without_lines={row["id"] for row in new_rows},
        accounts=accounts,
    )
    return outcome


async def recompute_stored_deals(
    db: Database, deal_ids: Sequence[int], *, now: datetime | None = None
) -> Outcome:
    """Recompute stored deals by id in a transaction of their own and post the differences.

    The key names the deals and the state of their lines, so a redelivered job replays.
    """
    now = now or utcnow()
    async with posting_session(db) as session:
        return await compute_and_post(session, deal_ids, key_scope=("job", sorted(deal_ids)), now=now)


async def load_deal_rows(session: AsyncSession, deal_ids: Sequence[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    connection = await session.connection()
    for condition in among(session, StoredDeal.id, sorted(deal_ids)):
        result = await connection.execute(select(StoredDeal.__table__).where(condition))
        rows.extend(dict(row) for row in result.mappings())
    return rows


async def deal_facts(
    session: AsyncSession,
    rows: Sequence[Mapping[str, Any]],
    *,
    accounts: Mapping[tuple[str, int], tuple[str, str]] | None = None,
    with_opening_times: bool = True,
) -> dict[int, DealFacts]:
    """Calculation facts for the closing, not deleted rows among ``rows``, keyed by deal id.

    ``accounts`` ((server, login) -> (account type, currency)) saves reading them again when the
    caller has them; positions' opening times are read only ``with_opening_times`` (some rule has a
    minimum hold time).
    """
    closing = [
        row for row in rows if not row["deleted"] and deal_rows.is_closing(row["entry"], row["volume_closed"])
    ]
    if not closing:
        return {}
    found: dict[tuple[str, int], tuple[str, str]] = dict(accounts or {})
    for server in {row["server"] for row in closing}:
        logins = sorted({row["login"] for row in closing if (row["server"], row["login"]) not in found})
        for condition in among(session, TradingAccount.login, logins):
            result = await session.execute(
                select(TradingAccount.login, TradingAccount.account_type, TradingAccount.currency).where(
                    TradingAccount.server == server, condition
                )
            )
            for login, account_type, currency in result:
                found[(server, login)] = (account_type, currency)
    symbols = {
        symbol: (group, digits)
        for symbol, group, digits in await session.execute(
            select(SymbolSpec.symbol, SymbolSpec.symbol_group, SymbolSpec.digits).where(
                SymbolSpec.symbol.in_(sorted({row["symbol"] for row in closing}))
            )
        )
    }
    opened = await _opening_times(session, closing) if with_opening_times else {}
    out: dict[int, DealFacts] = {}
    for row in closing:
        account = found.get((row["server"], row["login"]))
        if account is None:
            continue
        group, digits = symbols.get(row["symbol"], (None, None))
        out[row["id"]] = deal_rows.facts(
            row,
            account_type=account[0],
            account_currency=account[1],
            symbol_group=group,
            symbol_digits=digits,
            opened_at=opened.get((row["server"], row["position_id"])),
        )
    return out


async def _opening_times(
    session: AsyncSession, closing: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, int], datetime]:
    """(server, position id) -> when its first IN deal happened, for the minimum-hold condition."""
    opened: dict[tuple[str, int], datetime] = {}
    for server in {row["server"] for row in closing}:
        positions = sorted({row["position_id"] for row in closing if row["server"] == server})
        for condition in among(session, StoredDeal.position_id, positions):
            firsts = await session.execute(
                select(StoredDeal.position_id, func.min(StoredDeal.time))
                .where(
                    StoredDeal.server == server,
                    condition,
                    StoredDeal.entry == int(DealEntry.IN),
                    StoredDeal.deleted.is_(False),
                )
                .group_by(StoredDeal.position_id)
            )
            for position_id, opened_at in firsts:
                opened[(server, position_id)] = aware(opened_at)
    return opened


def uses_min_hold(network: Network) -> bool:
    """Whether some rule of the network's versions has a minimum hold time."""
    return any(
        rule.conditions.min_hold_seconds
        for versions in network.versions.values()
        for version in versions
        for rule in version.rules
    )


def _uses(network: Network, kind: str | None = None, *, capped: bool = False) -> set[str]:
    codes: set[str] = set()
    for versions in network.versions.values():
        for version in versions:
            for rule in version.rules:
                if capped and (
                    rule.conditions.cap_per_day is not None or rule.conditions.cap_per_month is not None
                ):
                    codes.add(rule.code)
                if kind is not None and rule.kind == kind:
                    codes.add(rule.code)
    return codes


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def seed_state(
    session: AsyncSession,
    network: Network,
    facts: Mapping[int, DealFacts],
    *,
    computing_window: tuple[datetime, datetime] | None = None,
    include_caps: bool = True,
) -> CalculationState:
    """What came before the deals being computed: cap usage, clients' lots, first deposits, CPAs paid.

    Lines and deals being recomputed don't count: the deal ids in ``facts`` (an engine batch) or
    everything in ``computing_window`` (a recompute of a period).
    """
    state = CalculationState()
    if not facts:
        return state
    ids = sorted(facts)
    clients = sorted({fact.client_id for fact in facts.values()})
    first = min(fact.time for fact in facts.values())
    last = max(fact.time for fact in facts.values())

    def excluded(deal_id_column: Any, time_column: Any) -> Any:
        if computing_window is not None:
            return (time_column < computing_window[0]) | (time_column >= computing_window[1])
        return deal_id_column.not_in(ids) if len(ids) <= SQL_CHUNK else time_column < first

    capped = _uses(network, capped=True) if include_caps else set()
    if capped:
        result = await session.execute(
            select(
                CommissionLine.beneficiary_id,
                CommissionLine.rule_code,
                CommissionLine.deal_time,
                CommissionLine.amount,
            ).where(
                CommissionLine.rule_code.in_(sorted(capped)),
                CommissionLine.deal_time >= _month_start(first),
                CommissionLine.deal_time < last + timedelta(days=32),
                excluded(CommissionLine.deal_id, CommissionLine.deal_time),
            )
        )
        for partner_id, code, moment, amount in result:
            moment = aware(moment)
            for key in (f"D:{moment.date().isoformat()}", f"M:{moment:%Y-%m}"):
                state.cap_used[(partner_id, code, key)] = (
                    state.cap_used.get((partner_id, code, key), 0) + amount
                )
    cpa_codes = _uses(network, "cpa")
    if cpa_codes:
        for chunk in chunked(clients):
            await _seed_cpa_history(session, state, chunk, cpa_codes, first, excluded)
    return state


async def _seed_cpa_history(
    session: AsyncSession,
    state: CalculationState,
    clients: Sequence[int],
    cpa_codes: Set[str],
    first: datetime,
    excluded: Callable[[Any, Any], Any],
) -> None:
    """For a CPA scheme: the ``clients``' first deposits and CPAs paid, then the lots closed before
    ``first`` and the last trade of those who may still be paid.

    Only the CPA rule reads lots and the last trade, and it pays nothing to a client without a
    first deposit or already paid under that rule; summing those clients' whole history for every
    batch would cost the most for the clients who trade the most, to no effect.
    """
    for client_id, amount, currency, at in await session.execute(
        select(
            ClientDeposit.client_id,
            ClientDeposit.amount,
            ClientDeposit.currency,
            ClientDeposit.deposited_at,
        ).where(ClientDeposit.client_id.in_(clients))
    ):
        state.first_deposits[client_id] = (amount, currency, aware(at))
    # Found through the CPA-paid index alone: a materialised CTE is planned on its own, so the
    # exclusion's time test cannot steer PostgreSQL to the time index and every older line.
    paid = (
        select(
            CommissionLine.trader_client_id,
            CommissionLine.rule_code,
            CommissionLine.deal_id,
            CommissionLine.deal_time,
        )
        .where(CommissionLine.trader_client_id.in_(clients), text(PAID_CPA))
        .cte("paid_cpa")
        .prefix_with("MATERIALIZED")
    )
    for client_id, code in await session.execute(
        select(paid.c.trader_client_id, paid.c.rule_code).where(excluded(paid.c.deal_id, paid.c.deal_time))
    ):
        state.cpa_paid.add((client_id, code))
    unpaid = [
        client_id
        for client_id in clients
        if client_id in state.first_deposits
        and any((client_id, code) not in state.cpa_paid for code in cpa_codes)
    ]
    if not unpaid:
        return
    for client_id, units, latest in await session.execute(
        select(StoredDeal.client_id, func.sum(StoredDeal.volume_closed), func.max(StoredDeal.time))
        .where(
            StoredDeal.client_id.in_(unpaid),
            StoredDeal.time < first,
            StoredDeal.deleted.is_(False),
            StoredDeal.entry.in_([int(e) for e in deal_rows.CLOSING_ENTRIES]),
        )
        .group_by(StoredDeal.client_id)
    ):
        state.client_lots[client_id] = units_to_lots(int(units or 0))
        if latest is not None:
            state.client_last_trade[client_id] = aware(latest)


def merge_new_clients(state: CalculationState, page: CalculationState) -> None:
    """Add what ``page`` knows about clients ``state`` has not seen yet (a later page of a period)."""
    seen = set(state.client_lots) | set(state.client_last_trade)
    for client_id, lots in page.client_lots.items():
        state.client_lots.setdefault(client_id, lots)
    for client_id, moment in page.client_last_trade.items():
        state.client_last_trade.setdefault(client_id, moment)
    # Seen clients keep what an earlier page knew of them: their past lots were summed, or not, on
    # that knowledge (only for clients with a deposit), and a deposit committed since would meet
    # lots never summed.
    for client_id, deposit in page.first_deposits.items():
        if client_id not in seen:
            state.first_deposits.setdefault(client_id, deposit)
    state.cpa_paid.update(item for item in page.cpa_paid if item[0] not in seen)


async def post_deltas(
    session: AsyncSession, deltas: Mapping[tuple[int, str], int], *, key_prefix: str, now: datetime
) -> list[int]:
    """Post each IB's net change in one ledger batch: earnings, or clawbacks when negative."""
    journals: list[Journal] = []
    by_currency: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (partner_id, currency), amount in sorted(deltas.items()):
        by_currency[currency].append((partner_id, amount))
    for currency, items in sorted(by_currency.items()):
        expense = await expense_account(session, currency)
        payables = await payable_accounts(session, [pid for pid, _amount in items], currency)
        for partner_id, amount in items:
            key = f"{key_prefix}:{partner_id}:{currency}"
            if amount > 0:
                request = posted(
                    key,
                    debit=expense,
                    credit=payables[partner_id],
                    amount=amount,
                    currency=currency,
                    code=EARN_CODE,
                    reference=key_prefix,
                )
            else:
                request = posted(
                    key,
                    debit=payables[partner_id],
                    credit=expense,
                    amount=-amount,
                    currency=currency,
                    code=CLAWBACK_CODE,
                    reference=key_prefix,
                )
            journals.append(Journal([request]))
    if not journals:
        return []
    results = await post_batch(session, journals, now=now)
    refused = [result for result in results if not result.ok]
    if refused:
        raise PostingRefusedError(
            "ledger refused: " + ", ".join(f"{result.key} ({result.refusal})" for result in refused)
        )
    return [result.transfer_id for result in results if result.transfer_id is not None]


async def compute_lines(
    session: AsyncSession,
    rows: Sequence[Mapping[str, Any]],
    *,
    accounts: Mapping[tuple[str, int], tuple[str, str]] | None = None,
) -> tuple[Iterator[Line], dict[tuple[str, int], int]]:
    """The lines the stored deal ``rows`` earn now (computed as the iterator is consumed), and the
    deal id of each (server, ticket).

    The network is loaded once for the whole batch, for the batch's clients only.
    """
    clients = {row["client_id"] for row in rows}
    network = await load_network(session, clients)
    facts = await deal_facts(session, rows, accounts=accounts, with_opening_times=uses_min_hold(network))
    state = await seed_state(session, network, facts)
    lines = iter_lines(list(facts.values()), network, state)
    ids = {(row["server"], row["ticket"]): row["id"] for row in rows}
    return lines, ids


async def compute_and_post(
    session: AsyncSession,
    deal_ids: Sequence[int],
    *,
    key_scope: object,
    now: datetime,
    outcome: Outcome | None = None,
    rows: Sequence[Mapping[str, Any]] | None = None,
    without_lines: Set[int] = frozenset(),
    accounts: Mapping[tuple[str, int], tuple[str, str]] | None = None,
) -> Outcome:
    """Recompute the given stored deals, write the line differences and post them.

    ``rows`` are the deals' stored rows when the caller holds them already, and ``without_lines``
    the ids among them that were inserted just now and so have no lines to read.

    The postings' idempotency key hashes ``key_scope`` (what triggered the run) together with the
    revisions of the deals' stored lines. Revisions only grow, so a later change of the same deals
    (an edit, then an edit back) always gets a new key, while a concurrent duplicate of this very
    run gets the same key and replays instead of paying twice.
    """
    outcome = outcome or Outcome()
    # A batch makes a few objects per line and no reference cycle; see core.gc_tuning. The lines
    # are dropped before the collector runs again, so it never walks them.
    with collector_paused():
        if rows is None:
            rows = await load_deal_rows(session, deal_ids)
        lines, ids = await compute_lines(session, rows, accounts=accounts)
        stored = await stored_lines(
            session, [deal_id for deal_id in deal_ids if deal_id not in without_lines]
        )
        state = sorted((key, revision) for key, (_amount, _currency, revision) in stored.items())
        digest = hashlib.sha256(repr((key_scope, state)).encode()).hexdigest()[:40]
        key_prefix = f"ib:e:{digest}"
        diff = await write_diff(session, lines, ids, stored, now)
        outcome.computed_deals += len(rows)
        outcome.lines_written += diff.inserted + len(diff.updates)
        deltas = diff.deltas
        del lines, ids, stored, state, diff
        outcome.deltas.update(deltas)
        outcome.transfer_ids.extend(await post_deltas(session, deltas, key_prefix=key_prefix, now=now))
    await enqueue_instant_payouts(session, [pid for (pid, _c), amount in deltas.items() if amount > 0])
    return outcome


async def enqueue_instant_payouts(session: AsyncSession, partner_ids: Sequence[int]) -> None:
    """IBs paid instantly get a payout job once this transaction has committed."""
    if not partner_ids:
        return
    instant = await session.scalars(
        select(PayoutPolicy.partner_id).where(
            PayoutPolicy.partner_id.in_(sorted(set(partner_ids))), PayoutPolicy.frequency == "instant"
        )
    )
    for partner_id in instant.all():
        enqueue_after_commit(session, "ib.pay_out_commissions", partner_id)
