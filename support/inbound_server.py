"""The inbound support mail server: SMTP on loopback (aiosmtpd), behind the broker's own MX.

The MX relays mail for ``support+…@<reply domain>`` here. A recipient that is no ticket address is
refused at ``RCPT``; the mail itself is threaded in one transaction, and a refusal is the SMTP
answer :mod:`support.inbound` chose, so the sender's server bounces it with that reason. Mail
larger than the upload limit is refused by the SMTP layer (552) before it is read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.exc import IntegrityError

from core.db import Database
from core.db.after_commit import session_on
from core.settings import Settings
from support.errors import InboundMailRefusedError
from support.inbound import UNKNOWN_ADDRESS, addressed_ticket, receive_reply, ticket_recipient
from support.mailing import reply_domain

logger = logging.getLogger(__name__)
MAX_RECIPIENTS = 20
ENVELOPE_BYTES = 256 * 1024


class SupportInboundHandler:
    """aiosmtpd handler: refuses a recipient that names no ticket (or a wrong token) at ``RCPT``,
    and threads the mail at ``DATA``."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.domain = reply_domain(settings)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        parsed = ticket_recipient([address], self.domain)
        if parsed is None:
            return UNKNOWN_ADDRESS
        async with self.database.session() as db_session:
            if await addressed_ticket(db_session, parsed) is None:
                return UNKNOWN_ADDRESS
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw or "").encode()
        try:
            # a writing transaction from its BEGIN, so parallel deliveries queue on SQLite too
            async with session_on(self.database.write_connection()) as db_session:
                message = await receive_reply(
                    db_session, recipients=list(envelope.rcpt_tos), raw=data, domain=self.domain
                )
                await db_session.flush()
                ticket_id, message_id = message.ticket_id, message.id
        except InboundMailRefusedError as exc:
            logger.info("inbound support mail refused: %s", exc.smtp_reply)
            return exc.smtp_reply
        except IntegrityError:
            # the same Message-ID threaded by a parallel delivery a moment ago: already done
            return "250 OK (already threaded)"
        logger.info("inbound support mail threaded into ticket %s as message %s", ticket_id, message_id)
        return "250 OK"


async def start_inbound_server(
    database: Database, settings: Settings, host: str | None = None, port: int | None = None
) -> asyncio.Server:
    """Listen on ``host:port`` (the settings' by default) in the running event loop."""
    handler = SupportInboundHandler(database, settings)
    loop = asyncio.get_running_loop()

    def protocol() -> Any:
        return SMTP(
            handler,
            hostname="brokerdesk-support",
            data_size_limit=settings.max_upload_bytes + ENVELOPE_BYTES,
            enable_SMTPUTF8=True,
        )

    return await loop.create_server(
        protocol,
        host=host or settings.support_inbound_host,
        port=settings.support_inbound_port if port is None else port,
    )


async def serve_inbound(database: Database, settings: Settings) -> None:
    """Run the inbound server until cancelled (``brokerdesk support-inbound``)."""
    server = await start_inbound_server(database, settings)
    logger.info("inbound support mail on %s:%s", settings.support_inbound_host, settings.support_inbound_port)
    async with server:
        await server.serve_forever()


__all__ = ["UNKNOWN_ADDRESS", "SupportInboundHandler", "serve_inbound", "start_inbound_server"]
