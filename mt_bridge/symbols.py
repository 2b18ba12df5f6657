"""Symbol aliases: brokers suffix symbols per group (``XAUUSD.m``); rules want one canonical name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SymbolAliases:
    """An alias table plus suffixes that mark a variant of a canonical symbol.

    ``aliases`` maps a platform's name to the canonical one (``GOLD.m`` → ``XAUUSD``) and wins
    over ``suffixes``, which are stripped from names not in the table (``.m``, ``.pro``).
    """

    aliases: Mapping[str, str] = field(default_factory=dict)
    suffixes: Iterable[str] = ()

    def normalise(self, raw: str) -> str:
        """The canonical name of ``raw``; names with neither alias nor suffix come back unchanged."""
        name = raw.strip()
        if name in self.aliases:
            return self.aliases[name]
        for suffix in sorted(self.suffixes, key=len, reverse=True):
            if suffix and name.endswith(suffix) and len(name) > len(suffix):
                stripped = name[: -len(suffix)]
                return self.aliases.get(stripped, stripped)
        return name


NO_ALIASES = SymbolAliases()
