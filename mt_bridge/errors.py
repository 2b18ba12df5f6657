"""The bridge's error tree: one root, transport failures, and one leaf per platform retcode.

Callers catch :class:`MtBridgeError` for any bridge failure, :class:`PlatformRejectedError` for
"the server answered no" (nothing was applied), or :class:`OutcomeUnknownError` for "we don't
know whether it was applied", which an outbox must resolve by looking at the server.
"""

from __future__ import annotations

from core.errors import BrokerDeskError
from mt_bridge.retcodes import Retcode


class MtBridgeError(BrokerDeskError):
    """Raised for any failure inside the trading-platform bridge."""


class PlatformUnavailableError(MtBridgeError):
    """Raised when the platform can't be reached, so a request was never delivered."""


class OutcomeUnknownError(MtBridgeError):
    """Raised when a request was sent but no answer came back, so it may or may not be applied."""


class ProtocolError(MtBridgeError):
    """Raised when the platform's answer does not have the documented shape."""


class ServerAuthenticationError(MtBridgeError):
    """Raised when the server could not prove that it knows the manager's password."""


class PlatformRejectedError(MtBridgeError):
    """Raised when the platform answered with a non-zero retcode; the request was not applied."""

    retcode: int = Retcode.ERR_COMMON

    def __init__(self, retcode: int, text: str = "", endpoint: str = "") -> None:
        self.retcode = retcode
        self.text = text
        self.endpoint = endpoint
        where = f" on {endpoint}" if endpoint else ""
        super().__init__(f"platform answered {retcode} {text}{where}".rstrip())


class InvalidParametersError(PlatformRejectedError):
    """Raised when the platform refused a request's parameters (retcode 3)."""


class NotEnoughPermissionsError(PlatformRejectedError):
    """Raised when the manager may not do this, or the session is not authenticated (retcode 8)."""


class PlatformTimeoutError(PlatformRejectedError):
    """Raised when the platform reports a timeout of its own, such as a late auth answer (retcode 9)."""


class PlatformNotFoundError(PlatformRejectedError):
    """Raised when the login, deal or group asked for does not exist on the platform (retcode 13)."""


class AccountExistsError(PlatformRejectedError):
    """Raised when an account with the requested login already exists (retcode 3004)."""


class InvalidPasswordError(PlatformRejectedError):
    """Raised when a password is wrong or breaks the platform's password rules (retcode 3006)."""


class DifferentCurrencyError(PlatformRejectedError):
    """Raised when an account would move to a group with another deposit currency (retcode 3010)."""


class MoneyLimitError(PlatformRejectedError):
    """Raised when one balance operation exceeds the platform's money limit (retcode 4005)."""


class NotEnoughMoneyError(PlatformRejectedError):
    """Raised when a withdrawal exceeds the balance, credit or free margin (retcode 10019)."""


ERRORS_BY_RETCODE: dict[int, type[PlatformRejectedError]] = {
    Retcode.ERR_PARAMS: InvalidParametersError,
    Retcode.ERR_PERMISSIONS: NotEnoughPermissionsError,
    Retcode.ERR_TIMEOUT: PlatformTimeoutError,
    Retcode.ERR_NOTFOUND: PlatformNotFoundError,
    Retcode.USR_LOGIN_EXIST: AccountExistsError,
    Retcode.USR_INVALID_PASSWORD: InvalidPasswordError,
    Retcode.USR_DIFFERENT_CURRENCY: DifferentCurrencyError,
    Retcode.TRADE_MAX_MONEY: MoneyLimitError,
    Retcode.REQUEST_NO_MONEY: NotEnoughMoneyError,
}


def error_for_retcode(retcode: int, text: str = "", endpoint: str = "") -> PlatformRejectedError:
    """The most precise error for a non-zero retcode; unknown codes give the generic one."""
    error_class = ERRORS_BY_RETCODE.get(retcode, PlatformRejectedError)
    return error_class(retcode, text, endpoint)


class InvalidProductError(MtBridgeError):
    """Raised when a server, group, account type or symbol definition breaks a product rule."""


class AccountRequestError(MtBridgeError):
    """Raised when a trading-account request (open, leverage, password) is not allowed."""


class RepeatedRequestError(AccountRequestError):
    """Raised when a request that makes a password comes again with the same request key."""


class CommandStateError(MtBridgeError):
    """Raised when an outbox command is asked to do something its status does not allow."""
