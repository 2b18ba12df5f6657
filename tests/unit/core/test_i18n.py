"""Catalog loading and language negotiation."""

from __future__ import annotations

from core.i18n import Translator, use_language
from core.i18n.catalogs import language_from_accept_header, normalise_language


def test_chinese_catalog_translates_and_english_passes_through() -> None:
    translator = Translator()
    with use_language("zh_Hans"):
        assert translator.gettext("Page not found") == "页面不存在"
    with use_language("en"):
        assert translator.gettext("Page not found") == "Page not found"


def test_unknown_message_falls_back_to_english() -> None:
    with use_language("zh_Hans"):
        assert Translator().gettext("No such message id") == "No such message id"


def test_accept_language_by_quality() -> None:
    assert language_from_accept_header("fr;q=1, zh-CN;q=0.8, en;q=0.5") == "zh_Hans"
    assert language_from_accept_header("de, fr") is None
    assert normalise_language("zh-hans") == "zh_Hans"
    assert normalise_language("EN-gb") == "en"
