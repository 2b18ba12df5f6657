"""Product forms of the dealing screens: which fields a form has, and turning typed text into values.

One description per field serves the create form, the edit form and the parser, so a field can't
be shown in one place and forgotten in another. Bad input raises :class:`InvalidProductError`
naming the field, before any service is called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import is_id_text
from mt_bridge.errors import InvalidProductError

Choices = Callable[[AsyncSession], Awaitable[list[tuple[str, str]]]]
"""``(value, label)`` pairs a select offers, read when the form is shown and when it is checked."""

TEXT, INT, BOOL, CHOICE, PASSWORD, DECIMAL, INT_LIST, TEXT_LIST, MONEY = (
    "text",
    "int",
    "bool",
    "choice",
    "password",
    "decimal",
    "int_list",
    "text_list",
    "money",
)
MAX_LIST_ITEMS = 50


@dataclass(frozen=True)
class FormField:
    """One input of a product form."""

    name: str
    label: str
    kind: str = TEXT
    required: bool = True
    editable: bool = True
    """False: set when the product is created, shown read-only afterwards (a server's platform)."""
    choices: Choices | None = None
    hint: str = ""
    default: str = ""
    """What a new product's form starts with (``"on"`` ticks a checkbox)."""


async def field_choices(
    session: AsyncSession, fields: tuple[FormField, ...]
) -> dict[str, list[tuple[str, str]]]:
    return {field.name: await field.choices(session) for field in fields if field.choices is not None}


async def parse_form(
    session: AsyncSession, fields: tuple[FormField, ...], form: Mapping[str, str], *, creating: bool
) -> dict[str, Any]:
    """The typed values of the fields this form sets (every field on create, editable ones on edit)."""
    values: dict[str, Any] = {}
    for field in fields:
        if not creating and not field.editable:
            continue
        values[field.name] = await _parse(session, field, form.get(field.name, "").strip(), creating)
    return values


async def _parse(session: AsyncSession, field: FormField, raw: str, creating: bool) -> Any:
    if field.kind == BOOL:
        return raw in {"on", "1", "true", "yes"}
    if field.kind == PASSWORD:
        if not raw and creating and field.required:
            raise InvalidProductError(f"{field.label}: enter a value")
        return raw
    if not raw:
        if field.required and field.kind not in (TEXT_LIST, MONEY):
            raise InvalidProductError(f"{field.label}: enter a value")
        return _empty(field)
    if field.kind == CHOICE:
        offered = {value for value, _label in await field.choices(session)} if field.choices else set()
        if raw not in offered:
            raise InvalidProductError(f"{field.label}: choose one of the offered values")
        return int(raw) if raw.isdigit() else raw
    if field.kind == INT:
        return _integer(field, raw)
    if field.kind == INT_LIST:
        return [_integer(field, part) for part in _parts(field, raw)]
    if field.kind == TEXT_LIST:
        return _parts(field, raw)
    if field.kind in (DECIMAL, MONEY):
        return _decimal(field, raw)
    return raw


def _empty(field: FormField) -> Any:
    if field.kind == TEXT_LIST:
        return []
    if field.kind == MONEY:
        return Decimal(0)
    return None if field.kind in (CHOICE, INT) else ""


def _integer(field: FormField, raw: str) -> int:
    cleaned = raw.strip()
    digits = cleaned[1:] if cleaned.startswith("-") else cleaned
    if not is_id_text(digits) or len(digits) > 12:
        raise InvalidProductError(f"{field.label}: {raw!r} is not a whole number")
    return int(cleaned)


def _decimal(field: FormField, raw: str) -> Decimal:
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        raise InvalidProductError(f"{field.label}: {raw!r} is not a number") from None
    if not value.is_finite() or not 0 <= value < 10**15 or value != value.quantize(Decimal("1e-12")):
        raise InvalidProductError(f"{field.label}: {raw!r} is not a number we accept")
    return value


def _parts(field: FormField, raw: str) -> list[str]:
    parts = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
    if len(parts) > MAX_LIST_ITEMS:
        raise InvalidProductError(f"{field.label}: at most {MAX_LIST_ITEMS} values")
    return parts


def minor_units(amount: Decimal, digits: int, label: str) -> int:
    """An amount typed in currency units as minor units, refusing fractions the currency lacks."""
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise InvalidProductError(f"{label}: this currency takes at most {digits} decimal places")
    return int(scaled)


def shown_value(field: FormField, value: Any) -> str:
    """A stored value as the edit form shows it (passwords never: they are sealed)."""
    if field.kind == PASSWORD or value is None:
        return ""
    if field.kind == BOOL:
        return "on" if value else ""
    if field.kind in (INT_LIST, TEXT_LIST):
        return ", ".join(str(item) for item in value)
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)
