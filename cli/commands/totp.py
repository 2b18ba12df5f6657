"""``brokerdesk totp SECRET``: the current TOTP code of a secret, for the demo's staff sign-in.

The demo prints each seeded staff member's TOTP secret; this prints the code an authenticator app
would show now, and how long it stays valid. A code is accepted once: a second sign-in within the
same 30 seconds waits for the next one.
"""

from __future__ import annotations

import argparse
import binascii
import sys
import time
from typing import Any

import pyotp


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "totp", help="print the current TOTP code of a secret (demo staff sign-in)"
    )
    parser.add_argument("secret", help="the base32 TOTP secret the demo printed")
    parser.set_defaults(handler=print_code)


def print_code(args: argparse.Namespace) -> int:
    try:
        totp = pyotp.TOTP(args.secret.strip().replace(" ", "").upper())
        code = totp.now()
    except (binascii.Error, ValueError):
        print("brokerdesk: that is not a base32 TOTP secret", file=sys.stderr)
        return 2
    left = totp.interval - int(time.time()) % totp.interval
    print(f"{code}  (valid for {left} more seconds)")
    return 0
