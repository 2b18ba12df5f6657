# The Chinese texts here use Chinese punctuation and en dashes on purpose.
"""The Markdown subset renders what it promises and nothing else; search pieces split Chinese."""

from __future__ import annotations

from knowledge.markdown import plain_text, render_markdown, safe_target
from knowledge.search import QUERY_LIMIT, terms


def test_the_subset_renders_blocks_and_inline_rules() -> None:
    source = (
        "# Title\n\nSome **bold**, *italic* and `x < y`.\n\n- one\n- two\n\n1. first\n\n"
        "> note\n\n```\n<b>\n```"
    )
    assert render_markdown(source) == (
        "<h2>Title</h2>\n"
        "<p>Some <strong>bold</strong>, <em>italic</em> and <code>x &lt; y</code>.</p>\n"
        "<ul><li>one</li><li>two</li></ul>\n"
        "<ol><li>first</li></ol>\n"
        "<blockquote><p>note</p></blockquote>\n"
        "<pre><code>&lt;b&gt;</code></pre>"
    )


def test_raw_html_is_text_and_only_safe_links_become_links() -> None:
    html = render_markdown(
        "<script>alert(1)</script> [a](javascript:alert(1)) [b](/help/x) [c](data:text/html,x)"
    )
    assert "<script>" not in html
    assert '<a href="/help/x">b</a>' in html
    assert 'href="javascript' not in html
    assert 'href="data' not in html
    assert [
        safe_target(t) for t in ("https://x.test", "mailto:a@b.test", "#top", "//evil.test", "vbscript:x")
    ] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert plain_text("**Open** [Funding](/funding) now") == "Open Funding now"


def test_chinese_is_split_in_pieces_and_common_words_are_dropped() -> None:
    assert terms("How do I 如何入金 deposit? 金") == ["如何", "何入", "入金", "deposit", "金"]
    assert terms("the to a") == []
    long = "withdrawal " * 40
    assert terms(long) == ["withdrawal"]
    assert terms("x" * 1000) == ["x" * QUERY_LIMIT]
