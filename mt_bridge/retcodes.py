"""Return codes of the MT5 platform (``MT5APIConstants.h``) that the bridge reacts to.

The Web API sends each answer's code as ``"<number> <text>"``; only the number is meaningful.
"""

from __future__ import annotations

from enum import IntEnum


class Retcode(IntEnum):
    """The numeric return codes that BrokerDesk knows by name."""

    DONE = 0
    ERR_COMMON = 2
    ERR_PARAMS = 3
    ERR_DATA = 4
    ERR_NETWORK = 7
    ERR_PERMISSIONS = 8
    ERR_TIMEOUT = 9
    ERR_CONNECTION = 10
    ERR_FREQUENT = 12
    ERR_NOTFOUND = 13
    AUTH_CLIENT_INVALID = 1000
    AUTH_ACCOUNT_INVALID = 1001
    USR_LOGIN_EXIST = 3004
    USR_INVALID_PASSWORD = 3006
    USR_DIFFERENT_CURRENCY = 3010
    TRADE_MAX_MONEY = 4005
    REQUEST_NO_MONEY = 10019


RETCODE_TEXT: dict[int, str] = {
    Retcode.DONE: "Done",
    Retcode.ERR_COMMON: "Common error",
    Retcode.ERR_PARAMS: "Invalid parameters",
    Retcode.ERR_DATA: "Invalid data",
    Retcode.ERR_NETWORK: "Network error",
    Retcode.ERR_PERMISSIONS: "Not enough permissions",
    Retcode.ERR_TIMEOUT: "Timeout",
    Retcode.ERR_CONNECTION: "No connection",
    Retcode.ERR_FREQUENT: "Too frequent requests",
    Retcode.ERR_NOTFOUND: "Not found",
    Retcode.AUTH_CLIENT_INVALID: "Invalid client",
    Retcode.AUTH_ACCOUNT_INVALID: "Invalid account",
    Retcode.USR_LOGIN_EXIST: "Account already exists",
    Retcode.USR_INVALID_PASSWORD: "Invalid account password",
    Retcode.USR_DIFFERENT_CURRENCY: "Attempt to move account to different currency group",
    Retcode.TRADE_MAX_MONEY: "Money limit reached",
    Retcode.REQUEST_NO_MONEY: "Not enough money",
}


def format_retcode(code: int) -> str:
    """The ``"<number> <text>"`` string that the Web API puts in ``retcode``."""
    return f"{int(code)} {RETCODE_TEXT.get(code, 'Error')}"


def parse_retcode(value: object) -> tuple[int, str]:
    """Split a ``retcode`` value into its number and its text.

    Raises ValueError when the value does not start with a number.
    """
    text = str(value).strip()
    number, _, rest = text.partition(" ")
    return int(number), rest.strip()
