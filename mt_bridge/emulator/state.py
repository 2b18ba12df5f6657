"""The emulator's trade server state: users, deals, positions, and the rules that guard them.

Every refusal is a :class:`Refusal` carrying an official retcode; the HTTP layer turns it into
``{"retcode": "<code> <text>"}``. Money is ``Decimal`` rounded to the group's currency digits.
"""

from __future__ import annotations

import bisect
import fnmatch
import random
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter

import msgspec

from core import clock
from mt_bridge.emulator.config import EmulatorConfig, GroupConfig
from mt_bridge.emulator.market import Market, currencies_of, point
from mt_bridge.emulator.wire import deal_wire
from mt_bridge.records import DealAction, DealEntry, PositionSide
from mt_bridge.retcodes import Retcode

VOLUME_EXT_PER_LOT = 100_000_000
MAX_COMMENT_LENGTH = 31
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 16
DEFAULT_RIGHTS = 0x1E3

PLATFORM_MONEY_ROUNDING = ROUND_HALF_UP
"""Named rounding point: the emulated platform rounds computed profit, commission and swap to the
deposit currency's digits half-up, as MT's NormalizeDouble does."""


class Refusal(Exception):
    """Raised when the emulated server refuses a request with a retcode; nothing was applied."""

    def __init__(self, retcode: int, detail: str = "") -> None:
        super().__init__(f"{retcode} {detail}".strip())
        self.retcode = retcode
        self.detail = detail


@dataclass
class User:
    """An account (``IMTUser``) with its money."""

    login: int
    group: str
    name: str
    leverage: int
    password_main: str
    password_investor: str
    password_api: str = ""
    email: str = ""
    rights: int = DEFAULT_RIGHTS
    balance: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    registration_msc: int = 0


@dataclass
class DealRecord:
    """A deal (``IMTDeal``) as the emulated server stores it."""

    ticket: int
    login: int
    action: int
    entry: int
    time_msc: int
    comment: str = ""
    order: int = 0
    position_id: int = 0
    symbol: str = ""
    price: Decimal = Decimal(0)
    volume_ext: int = 0
    volume_closed_ext: int = 0
    profit: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    storage: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    digits: int = 0
    digits_currency: int = 2
    contract_size: Decimal = Decimal(0)
    price_position: Decimal = Decimal(0)
    wire: msgspec.Raw | None = field(default=None, init=False, repr=False, compare=False)
    """The deal's JSON as the Web API sends it (see ``wire.deal_wire``); None until made."""

    def __setattr__(self, name: str, value: object) -> None:
        # Whatever changes the deal, and however, its ready-made JSON is no longer true.
        object.__setattr__(self, name, value)
        if name != "wire":
            object.__setattr__(self, "wire", None)

    @property
    def money(self) -> Decimal:
        """What the deal did to the account's balance (or credit, for a credit deal)."""
        return self.profit + self.commission + self.storage + self.fee


@dataclass
class PositionRecord:
    """An open position (``IMTPosition``)."""

    ticket: int
    login: int
    symbol: str
    side: PositionSide
    volume_ext: int
    price_open: Decimal
    time_create_msc: int
    time_update_msc: int
    digits: int
    digits_currency: int
    contract_size: Decimal
    storage: Decimal = Decimal(0)
    comment: str = ""


@dataclass
class AccountState:
    """An account's money now (``IMTAccount``)."""

    login: int
    currency_digits: int
    balance: Decimal
    credit: Decimal
    floating: Decimal
    storage: Decimal
    equity: Decimal
    margin: Decimal
    margin_free: Decimal
    margin_leverage: int


def lots_to_ext(lots: Decimal) -> int:
    """Lots in ``VolumeExt`` units (1/100,000,000 lot)."""
    return int(lots * VOLUME_EXT_PER_LOT)


def ext_to_lots(volume_ext: int) -> Decimal:
    """``VolumeExt`` units in lots."""
    return Decimal(volume_ext) / VOLUME_EXT_PER_LOT


def matches_mask(name: str, mask: str) -> bool:
    """MT group masks: comma-separated patterns with ``*``; a leading ``!`` excludes."""
    included = False
    for raw in mask.split(","):
        pattern = raw.strip()
        if not pattern:
            continue
        if pattern.startswith("!"):
            if fnmatch.fnmatchcase(name.lower(), pattern[1:].lower()):
                return False
        elif fnmatch.fnmatchcase(name.lower(), pattern.lower()):
            included = True
    return included


def check_password_rules(password: str) -> None:
    """8 to 16 characters with a lower-case letter, an upper-case letter, a digit and a symbol."""
    ok = (
        PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH
        and any(c.islower() for c in password)
        and any(c.isupper() for c in password)
        and any(c.isdigit() for c in password)
        and any(c in string.punctuation for c in password)
    )
    if not ok:
        raise Refusal(Retcode.USR_INVALID_PASSWORD, "password breaks the password rules")


@dataclass
class TradeServer:
    """The whole emulated trade server; one instance behind every connection."""

    config: EmulatorConfig
    market: Market = field(init=False)
    rng: random.Random = field(init=False)
    users: dict[int, User] = field(default_factory=dict)
    deals: dict[int, DealRecord] = field(default_factory=dict)
    positions: dict[int, PositionRecord] = field(default_factory=dict)
    _next_login: int = 0
    _next_ticket: int = 1000
    _last_msc: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.config.seed)
        self.market = Market(self.config.symbols, random.Random(self.config.seed + 1))
        self._groups = {group.name: group for group in self.config.groups}
        self._next_login = self.config.first_login
        self._deals_by_login: dict[int, list[DealRecord]] = {}
        self._deals_by_time: list[DealRecord] = []

    # --- time and identifiers -------------------------------------------------------------
    def now_msc(self) -> int:
        """Server time in milliseconds: UTC (:mod:`core.clock`) plus the configured offset, never
        going backwards."""
        now = int(clock.utcnow().timestamp() * 1000) + self.config.time_offset_minutes * 60_000
        self._last_msc = max(now, self._last_msc)
        return self._last_msc

    def next_ticket(self) -> int:
        """A fresh ticket for a deal, order or position (one shared counter, like MT's ranges)."""
        self._next_ticket += 1
        return self._next_ticket

    # --- groups and users -----------------------------------------------------------------
    def group(self, name: str) -> GroupConfig:
        """The group called ``name``; refused with retcode 3 when it does not exist."""
        if name not in self._groups:
            raise Refusal(Retcode.ERR_PARAMS, f"group {name!r} does not exist")
        return self._groups[name]

    def groups_matching(self, mask: str) -> list[GroupConfig]:
        """Every group whose name matches an MT mask."""
        return [group for name, group in self._groups.items() if matches_mask(name, mask)]

    def user(self, login: int) -> User:
        """The user with ``login``; refused with retcode 13 when there is none."""
        if login not in self.users:
            raise Refusal(Retcode.ERR_NOTFOUND, f"login {login} not found")
        return self.users[login]

    def group_of(self, login: int) -> GroupConfig:
        """The group of the user with ``login``."""
        return self.group(self.user(login).group)

    def add_user(
        self,
        *,
        login: int,
        group: str,
        name: str,
        leverage: int,
        password_main: str,
        password_investor: str,
        email: str = "",
        rights: int = DEFAULT_RIGHTS,
    ) -> User:
        """Open an account: group, name and leverage are required, passwords must follow the rules."""
        if not name.strip():
            raise Refusal(Retcode.ERR_PARAMS, "name is required")
        group_config = self.group(group)
        self._check_leverage(group_config, leverage)
        check_password_rules(password_main)
        check_password_rules(password_investor)
        if login == 0:
            while self._next_login in self.users:
                self._next_login += 1
            login = self._next_login
            self._next_login += 1
        elif login in self.users:
            raise Refusal(Retcode.USR_LOGIN_EXIST, f"login {login} already exists")
        elif login < 0:
            raise Refusal(Retcode.ERR_PARAMS, "login must be positive")
        user = User(
            login=login,
            group=group,
            name=name,
            leverage=leverage,
            password_main=password_main,
            password_investor=password_investor,
            email=email,
            rights=rights,
            registration_msc=self.now_msc(),
        )
        self.users[login] = user
        return user

    def update_user(
        self,
        login: int,
        *,
        leverage: int | None = None,
        group: str | None = None,
        name: str | None = None,
        rights: int | None = None,
        email: str | None = None,
    ) -> User:
        """Change an account's settings; a move between currencies is refused (3010)."""
        user = self.user(login)
        target_group = self.group(group) if group is not None else self.group(user.group)
        if group is not None and target_group.currency != self.group(user.group).currency:
            raise Refusal(Retcode.USR_DIFFERENT_CURRENCY, "the new group has another deposit currency")
        if leverage is not None:
            self._check_leverage(target_group, leverage)
        elif group is not None:
            self._check_leverage(target_group, user.leverage)
        if name is not None:
            if not name.strip():
                raise Refusal(Retcode.ERR_PARAMS, "name must not be empty")
            user.name = name
        if leverage is not None:
            user.leverage = leverage
        if group is not None:
            user.group = group
        if rights is not None:
            user.rights = rights
        if email is not None:
            user.email = email
        return user

    def delete_user(self, login: int) -> None:
        """Delete an account without open positions."""
        self.user(login)
        if any(position.login == login for position in self.positions.values()):
            raise Refusal(3008, "the account has open positions")
        del self.users[login]

    def change_password(self, login: int, kind: str, password: str) -> None:
        """Replace the main, investor or API password."""
        user = self.user(login)
        check_password_rules(password)
        if kind == "main":
            user.password_main = password
        elif kind == "investor":
            user.password_investor = password
        elif kind == "api":
            user.password_api = password
        else:
            raise Refusal(Retcode.ERR_PARAMS, f"unknown password type {kind!r}")

    def logins_in(self, mask: str) -> list[int]:
        """Logins of every user in a group matching ``mask``."""
        return sorted(login for login, user in self.users.items() if matches_mask(user.group, mask))

    @staticmethod
    def _check_leverage(group: GroupConfig, leverage: int) -> None:
        if not group.leverage_min <= leverage <= group.leverage_max:
            raise Refusal(
                Retcode.ERR_PARAMS,
                f"leverage must be between {group.leverage_min} and {group.leverage_max}",
            )

    # --- money ------------------------------------------------------------------------------
    def round_money(self, amount: Decimal, currency_digits: int) -> Decimal:
        """Round computed money to the deposit currency's digits (see PLATFORM_MONEY_ROUNDING)."""
        return amount.quantize(Decimal(1).scaleb(-currency_digits), rounding=PLATFORM_MONEY_ROUNDING)

    def account_state(self, login: int) -> AccountState:
        """Balance, credit, floating profit, equity, margin and free margin at current prices."""
        user = self.user(login)
        group = self.group(user.group)
        floating = Decimal(0)
        storage = Decimal(0)
        margin = Decimal(0)
        for position in self.positions.values():
            if position.login != login:
                continue
            floating += self.floating_profit(position, group)
            storage += position.storage
            margin += self.position_margin(position, group, user.leverage)
        digits = group.currency_digits
        floating = self.round_money(floating, digits)
        margin = self.round_money(margin, digits)
        equity = user.balance + user.credit + floating + storage
        return AccountState(
            login=login,
            currency_digits=digits,
            balance=user.balance,
            credit=user.credit,
            floating=floating,
            storage=storage,
            equity=equity,
            margin=margin,
            margin_free=equity - margin,
            margin_leverage=user.leverage,
        )

    def floating_profit(self, position: PositionRecord, group: GroupConfig) -> Decimal:
        """Unrealised profit of ``position`` in the deposit currency, at the closing side's price."""
        quote = self.market.quote(position.symbol)
        close_price = quote.bid if position.side == PositionSide.BUY else quote.ask
        return self.trade_profit(position, close_price, ext_to_lots(position.volume_ext), group)

    def trade_profit(
        self, position: PositionRecord, close_price: Decimal, lots: Decimal, group: GroupConfig
    ) -> Decimal:
        """Profit of closing ``lots`` of ``position`` at ``close_price``, in the deposit currency."""
        symbol = self.market.symbol(position.symbol)
        direction = 1 if position.side == PositionSide.BUY else -1
        in_profit_currency = direction * (close_price - position.price_open) * lots * symbol.contract_size
        rate = self.market.rate(symbol.profit_currency, group.currency)
        return self.round_money(in_profit_currency * rate, group.currency_digits)

    def position_margin(self, position: PositionRecord, group: GroupConfig, leverage: int) -> Decimal:
        """Margin held by ``position``: its notional in the deposit currency over the leverage."""
        symbol = self.market.symbol(position.symbol)
        base, _ = currencies_of(symbol.name)
        notional = ext_to_lots(position.volume_ext) * symbol.contract_size
        return notional * self.market.rate(base, group.currency) / leverage

    def balance_operation(
        self, login: int, kind: int, amount: Decimal, comment: str, *, check_margin: bool = True
    ) -> DealRecord:
        """Apply a balance, credit, charge, correction or bonus operation as a deal."""
        user = self.user(login)
        group = self.group(user.group)
        if kind not in {2, 3, 4, 5, 6}:
            raise Refusal(Retcode.ERR_PARAMS, f"unknown balance operation type {kind}")
        if len(comment) > MAX_COMMENT_LENGTH:
            raise Refusal(Retcode.ERR_PARAMS, "comment longer than 31 characters")
        step = Decimal(1).scaleb(-group.currency_digits)
        if amount == 0 or amount != amount.quantize(step):
            raise Refusal(Retcode.ERR_PARAMS, "amount is zero or finer than the currency allows")
        if abs(amount) > self.config.money_limit:
            raise Refusal(Retcode.TRADE_MAX_MONEY, "money limit reached")
        if amount < 0:
            held = user.credit if kind == DealAction.CREDIT else user.balance
            if -amount > held:
                raise Refusal(Retcode.REQUEST_NO_MONEY, "not enough money")
            margin_checked = check_margin and kind != DealAction.CORRECTION
            if margin_checked and -amount > self.account_state(login).margin_free:
                raise Refusal(Retcode.REQUEST_NO_MONEY, "not enough free margin")
        if kind == DealAction.CREDIT:
            user.credit += amount
        else:
            user.balance += amount
        deal = DealRecord(
            ticket=self.next_ticket(),
            login=login,
            action=kind,
            entry=DealEntry.IN,
            time_msc=self.now_msc(),
            comment=comment,
            profit=amount,
            digits_currency=group.currency_digits,
        )
        self.record_deal(deal)
        return deal

    def record_deal(self, deal: DealRecord) -> None:
        """Store a new deal, with its JSON made ready; the time-ordered lists stay sorted."""
        deal_wire(deal)
        self.deals[deal.ticket] = deal
        _insert_in_time_order(self._deals_by_login.setdefault(deal.login, []), deal)
        _insert_in_time_order(self._deals_by_time, deal)

    # --- deals and positions ----------------------------------------------------------------
    def deal(self, ticket: int) -> DealRecord:
        """The deal with ``ticket``; refused with retcode 13 when there is none."""
        if ticket not in self.deals:
            raise Refusal(Retcode.ERR_NOTFOUND, f"deal {ticket} not found")
        return self.deals[ticket]

    def deals_between(
        self,
        logins: Iterable[int] | None,
        since_seconds: int,
        until_seconds: int,
        *,
        group_mask: str = "",
        tickets: Iterable[int] | None = None,
        symbol: str = "",
    ) -> list[DealRecord]:
        """Deals whose ``Time`` (server seconds) lies in ``[since, until]``, both ends inclusive."""
        wanted_logins = set(logins) if logins is not None else None
        wanted_tickets = set(tickets) if tickets is not None else None
        candidates: Iterable[DealRecord]
        if wanted_tickets is not None:
            candidates = [self.deals[ticket] for ticket in wanted_tickets if ticket in self.deals]
        elif wanted_logins is not None:
            candidates = [
                deal
                for login in wanted_logins
                for deal in _between(self._deals_by_login.get(login, []), since_seconds, until_seconds)
            ]
        else:
            candidates = _between(self._deals_by_time, since_seconds, until_seconds)
        # A mask is matched once per group, not once per deal.
        groups = {name for name in self._groups if matches_mask(name, group_mask)} if group_mask else None
        found = []
        for deal in candidates:
            if wanted_tickets is not None and deal.ticket not in wanted_tickets:
                continue
            if wanted_logins is not None and deal.login not in wanted_logins:
                continue
            if symbol and deal.symbol != symbol:
                continue
            if groups is not None and not (
                deal.login in self.users and self.users[deal.login].group in groups
            ):
                continue
            found.append(deal)
        return sorted(found, key=_DEAL_ORDER)

    def update_deal(self, ticket: int, changes: dict[str, Decimal | str]) -> DealRecord:
        """A dealer's correction of a deal; the account's balance follows the money it changes.

        Every change is checked before any is applied, so a refused edit leaves the deal as it was.
        """
        deal = self.deal(ticket)
        numbers = {
            name: changes[name]
            for name in ("profit", "commission", "storage", "fee", "price")
            if name in changes
        }
        for name, value in numbers.items():
            if not isinstance(value, Decimal):
                raise Refusal(Retcode.ERR_PARAMS, f"{name} must be a number")
        comment = str(changes["comment"]) if "comment" in changes else deal.comment
        if len(comment) > MAX_COMMENT_LENGTH:
            raise Refusal(Retcode.ERR_PARAMS, "comment longer than 31 characters")
        before = deal.money
        for name, value in numbers.items():
            setattr(deal, name, value)
        deal.comment = comment
        self._move_money(deal, deal.money - before)
        deal_wire(deal)
        return deal

    def delete_deal(self, ticket: int) -> None:
        """A dealer's deletion of a deal; its money effect on the account is taken back."""
        deal = self.deal(ticket)
        self._move_money(deal, -deal.money)
        del self.deals[ticket]
        self._deals_by_login[deal.login].remove(deal)
        self._deals_by_time.remove(deal)

    def _move_money(self, deal: DealRecord, delta: Decimal) -> None:
        user = self.users.get(deal.login)
        if user is None or delta == 0:
            return
        if deal.action == DealAction.CREDIT:
            user.credit += delta
        else:
            user.balance += delta

    def positions_of(
        self,
        logins: Iterable[int] | None,
        *,
        group_mask: str = "",
        tickets: Iterable[int] | None = None,
        symbol: str = "",
    ) -> list[PositionRecord]:
        """Open positions filtered by logins, group mask, tickets and symbol."""
        wanted_logins = set(logins) if logins is not None else None
        wanted_tickets = set(tickets) if tickets is not None else None
        found = []
        for position in self.positions.values():
            if wanted_logins is not None and position.login not in wanted_logins:
                continue
            if wanted_tickets is not None and position.ticket not in wanted_tickets:
                continue
            if group_mask and not matches_mask(self.users[position.login].group, group_mask):
                continue
            if symbol and position.symbol != symbol:
                continue
            found.append(position)
        return sorted(found, key=lambda p: p.ticket)

    def price_step(self, symbol: str) -> Decimal:
        """The smallest price step of ``symbol``."""
        return point(self.market.symbol(symbol).digits)


_DEAL_ORDER = attrgetter("time_msc", "ticket")


def _deal_time(deal: DealRecord) -> int:
    return deal.time_msc


def _insert_in_time_order(deals: list[DealRecord], deal: DealRecord) -> None:
    """Append ``deal`` (the usual case: it is the newest) or slot it in where its time belongs."""
    if not deals or deals[-1].time_msc <= deal.time_msc:
        deals.append(deal)
    else:
        bisect.insort_right(deals, deal, key=_deal_time)


def _between(deals: list[DealRecord], since_seconds: int, until_seconds: int) -> list[DealRecord]:
    """The part of a time-ordered list whose ``Time`` lies in ``[since, until]`` seconds."""
    start = bisect.bisect_left(deals, since_seconds * 1000, key=_deal_time)
    end = bisect.bisect_right(deals, until_seconds * 1000 + 999, key=_deal_time)
    return deals[start:end]
