"""One TLS context per process for the short-lived HTTP clients that call providers (PSP, KYC
vendor) and the sandboxes' webhook deliveries.

``httpx.AsyncClient()`` builds a fresh ``SSLContext`` and loads the CA bundle into it every time it
is created, about 25 ms of CPU, even for a plain-HTTP call; a deposit request paid that on every
call to the PSP. Passing this shared context as ``verify=`` keeps the very same trust (httpx's own
default context, certifi's bundle, hostname checks on) at the cost of building it once.
An ``SSLContext`` may be shared by any number of connections and threads.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def provider_tls() -> ssl.SSLContext:
    """The TLS context httpx would build by default, built once."""
    return httpx.create_ssl_context()
