"""A scheme version's rules as staff type them into the back office's form, turned into the rule
mappings :func:`ib.schemes.add_version` takes (and back, to prefill the form from a version).

Each rule is one row of fields named ``rule-<n>-<field>``. Parameters differ per kind, so they are
a small JSON object; conditions have a field each. Amounts are integers of minor units. A row whose
code and kind are both empty is skipped. Every problem is a :class:`~ib.errors.SchemeError` that
names the row, and nothing is written until the whole set is valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.ids import is_id_text
from ib.errors import SchemeError
from ib.models import Rule

TARGETS = ("account_type", "symbol_group", "symbol")
BLANK_ROWS = 3
"""Empty rule rows the form offers below the rules it was prefilled with."""


def _whole(raw: str, what: str) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if not is_id_text(text):
        raise SchemeError(f"{what} must be a whole non-negative number (minor units), not {text!r}")
    return int(text)


def rule_from_row(row: Mapping[str, str], number: int) -> dict[str, Any] | None:
    """One form row as a rule mapping, or ``None`` for an empty row."""
    code = row.get("code", "").strip()
    kind = row.get("kind", "").strip()
    if not code and not kind:
        return None
    where = f"rule {code or number}"
    try:
        params = json.loads(row.get("params", "").strip() or "{}")
    except json.JSONDecodeError as exc:
        raise SchemeError(f"{where}: parameters are not valid JSON ({exc.msg})") from exc
    if not isinstance(params, dict):
        raise SchemeError(f'{where}: parameters must be a JSON object like {{"amount_per_lot": 700}}')
    conditions: dict[str, Any] = {"include_own_trades": row.get("include_own_trades") == "1"}
    hold = _whole(row.get("min_hold_seconds", ""), f"{where}: minimum hold time")
    if hold:
        conditions["min_hold_seconds"] = hold
    for cap in ("cap_per_day", "cap_per_month"):
        value = _whole(row.get(cap, ""), f"{where}: {cap.replace('_', ' ')}")
        if value is not None:
            conditions[cap] = value
    types = [name.strip() for name in row.get("account_types", "").split(",") if name.strip()]
    if types:
        conditions["account_types"] = types
    rule: dict[str, Any] = {"code": code, "kind": kind, "params": params, "conditions": conditions}
    for target in TARGETS:
        rule[target] = row.get(target, "").strip() or None
    return rule


def form_rows(form: Mapping[str, str]) -> list[dict[str, str]]:
    """The form's ``rule-<n>-<field>`` fields as one mapping per row, in row order."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        prefix, _, rest = key.partition("-")
        number, _, name = rest.partition("-")
        if prefix == "rule" and number.isdigit() and name:
            rows.setdefault(int(number), {})[name] = value
    return [rows[n] for n in sorted(rows)]


def rules_from_form(form: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every non-empty rule row of the form, in row order."""
    rules = [rule_from_row(row, number) for number, row in enumerate(form_rows(form), start=1)]
    found = [rule for rule in rules if rule is not None]
    if not found:
        raise SchemeError("a scheme version needs at least one rule")
    return found


def row_from_rule(rule: Rule) -> dict[str, str]:
    """A stored rule as the form's fields, so a new version starts from the current one."""
    conditions = dict(rule.conditions or {})
    return {
        "code": rule.code,
        "kind": rule.kind,
        "params": json.dumps(rule.params, ensure_ascii=False),
        "min_hold_seconds": str(conditions.get("min_hold_seconds") or ""),
        "include_own_trades": "1" if conditions.get("include_own_trades") else "",
        "cap_per_day": str(conditions.get("cap_per_day", "")),
        "cap_per_month": str(conditions.get("cap_per_month", "")),
        "account_types": ", ".join(conditions.get("account_types") or []),
        **{target: getattr(rule, target) or "" for target in TARGETS},
    }
