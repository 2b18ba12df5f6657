"""The SLA clock's flags, the SLA form's checks and the Reply-To address, on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.settings import Settings
from support import sla
from support.errors import InvalidTicketInputError
from support.mailing import parse_reply_address, reply_address, reply_domain
from support.models import SupportTicket, TicketStatus

OPENED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def ticket(status: TicketStatus = TicketStatus.NEW, **values: object) -> SupportTicket:
    first_due, resolution_due = sla.due_times(sla.Target(60, 480), OPENED)
    return SupportTicket(
        id=7,
        status=status.value,
        reply_token="ab" * 16,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
        **values,
    )


def test_breaches_follow_the_due_times() -> None:
    assert not sla.sla_state(ticket(), OPENED + timedelta(minutes=59)).breached
    late = sla.sla_state(ticket(), OPENED + timedelta(minutes=61))
    assert late.first_response_breached
    assert not late.resolution_breached
    answered = ticket(TicketStatus.WAITING_ON_CLIENT, first_response_at=OPENED + timedelta(minutes=30))
    assert not sla.sla_state(answered, OPENED + timedelta(hours=7)).breached
    assert sla.sla_state(answered, OPENED + timedelta(hours=9)).resolution_breached
    resolved = ticket(
        TicketStatus.RESOLVED,
        first_response_at=OPENED + timedelta(minutes=30),
        resolved_at=OPENED + timedelta(hours=2),
    )
    assert not sla.sla_state(resolved, OPENED + timedelta(days=3)).breached
    closed_unanswered = ticket(TicketStatus.CLOSED, closed_at=OPENED + timedelta(minutes=5))
    assert not sla.sla_state(closed_unanswered, OPENED + timedelta(days=3)).breached


def test_the_sla_form_takes_whole_minutes_with_resolution_after_first_response() -> None:
    values = {f"{p}_{part}": "60" for p in sla.DEFAULT_TARGETS for part in ("first_response", "resolution")}
    assert sla.parse_targets(values)["urgent"] == sla.Target(60, 60)
    for field, raw in [("low_first_response", "0"), ("high_resolution", "1.5"), ("normal_resolution", "30")]:
        with pytest.raises(InvalidTicketInputError) as refused:
            sla.parse_targets({**values, field: raw})
        assert refused.value.field == field


def test_the_reply_address_names_the_ticket_and_its_token() -> None:
    settings = Settings(env="test", mail_from="Demo Broker <no-reply@Broker.Test>")
    assert reply_domain(settings) == "broker.test"
    address = reply_address(ticket(), reply_domain(settings))
    assert address == f"support+7.{'ab' * 16}@broker.test"
    parsed = parse_reply_address(address.upper())
    assert parsed is not None
    assert (parsed.ticket_id, parsed.token, parsed.domain) == (7, "ab" * 16, "broker.test")
    for other in (
        "support@broker.test",
        "support+7@broker.test",
        "support+x.abc@broker.test",
        "support+7.zz@b.t",
    ):
        assert parse_reply_address(other) is None
