"""A plain-Python ledger that the real one is checked against.

It knows nothing of databases, ids or bulk writes: accounts are four counters, transfers are
keyed by idempotency key, a journal is applied to a copy of the state and kept only if every
transfer passes. It is deliberately written differently from :mod:`ledger.posting` (whole-state
copies, keys instead of ids) so that a shared bug is unlikely.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

MAX = 2**63 - 1


@dataclass
class ModelAccount:
    currency: str
    credit_normal: bool
    guarded: bool
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0

    def ok(self) -> bool:
        if max(self.debits_posted + self.debits_pending, self.credits_posted + self.credits_pending) > MAX:
            return False
        return not self.guarded or self.debits_posted + self.debits_pending <= self.credits_posted


@dataclass(frozen=True)
class Move:
    key: str
    debit: str
    credit: str
    amount: object
    currency: str
    pending: bool = False


@dataclass(frozen=True)
class Resolve:
    key: str
    pending_key: str
    action: str  # "post" or "void"
    amount: object = None


@dataclass(frozen=True)
class Reverse:
    key: str
    target_key: str


Action = Move | Resolve | Reverse


@dataclass
class ModelLedger:
    accounts: dict[str, ModelAccount] = field(default_factory=dict)
    stored: dict[str, tuple[object, int]] = field(default_factory=dict)
    """key -> (content, journal number) of every applied transfer"""
    kinds: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)
    """key -> (kind, debit, credit, amount) of every applied transfer"""
    resolved: set[str] = field(default_factory=set)
    reversed: set[str] = field(default_factory=set)
    journals: int = 0

    def post(self, journal: list[Action]) -> list[bool]:
        keys = [action.key for action in journal]
        if len(set(keys)) != len(keys):
            return [False] * len(journal)
        earlier = [self.stored.get(key) for key in keys]
        if any(item is not None for item in earlier):
            same = all(
                item is not None and item[0] == self._content(action)
                for action, item in zip(journal, earlier, strict=True)
            )
            one_journal = len({item[1] for item in earlier if item is not None}) == 1
            return [same and one_journal] * len(journal)
        trial = copy.deepcopy(self)
        for action in journal:
            if not trial._apply(action):
                return [False] * len(journal)
        trial.journals += 1
        for action in journal:
            trial.stored[action.key] = (trial._content(action), trial.journals)
        self.__dict__.update(trial.__dict__)
        return [True] * len(journal)

    def _content(self, action: Action) -> object:
        if isinstance(action, Move):
            return ("move", action.debit, action.credit, action.amount, action.currency, action.pending)
        if isinstance(action, Resolve):
            return ("resolve", action.pending_key, action.action, action.amount)
        return ("reverse", action.target_key)

    def _apply(self, action: Action) -> bool:
        if isinstance(action, Move):
            amount = action.amount
            if type(amount) is not int or not 0 < amount <= MAX or action.debit == action.credit:
                return False
            debit, credit = self.accounts[action.debit], self.accounts[action.credit]
            if not debit.currency == credit.currency == action.currency:
                return False
            if action.pending:
                debit.debits_pending += amount
                credit.credits_pending += amount
            else:
                debit.debits_posted += amount
                credit.credits_posted += amount
            self.kinds[action.key] = (
                "pending" if action.pending else "posted",
                action.debit,
                action.credit,
                amount,
            )
            return debit.ok() and credit.ok()
        if isinstance(action, Resolve):
            target = self.kinds.get(action.pending_key)
            if target is None or target[0] != "pending" or action.pending_key in self.resolved:
                return False
            _, debit_name, credit_name, reserved = target
            if action.action == "post":
                amount = reserved if action.amount is None else action.amount
                if type(amount) is not int or not 0 < amount <= reserved:
                    return False
            else:
                amount = 0
            debit, credit = self.accounts[debit_name], self.accounts[credit_name]
            debit.debits_pending -= reserved
            credit.credits_pending -= reserved
            debit.debits_posted += amount
            credit.credits_posted += amount
            self.resolved.add(action.pending_key)
            self.kinds[action.key] = (
                "post_pending" if amount else "void_pending",
                debit_name,
                credit_name,
                amount,
            )
            return debit.ok() and credit.ok()
        target = self.kinds.get(action.target_key)
        if (
            target is None
            or target[0] not in {"posted", "post_pending"}
            or action.target_key in self.reversed
        ):
            return False
        _, debit_name, credit_name, amount = target
        debit, credit = self.accounts[credit_name], self.accounts[debit_name]
        debit.debits_posted += amount
        credit.credits_posted += amount
        self.reversed.add(action.target_key)
        self.kinds[action.key] = ("reversal", credit_name, debit_name, amount)
        return debit.ok() and credit.ok()
