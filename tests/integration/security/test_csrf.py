"""Every form that posts carries the CSRF field, so the CSRF check never has to be switched off."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.S | re.I)


def test_every_post_form_has_a_csrf_field() -> None:
    templates = [
        p for pkg in ("core", "portal", "backoffice", "ib") for p in (ROOT / pkg).rglob("templates/**/*.html")
    ]
    templates = [p for p in templates if "mail/templates" not in str(p)]
    forms = 0
    for template in templates:
        for body in POST_FORM.findall(template.read_text(encoding="utf-8")):
            forms += 1
            assert "csrf_field()" in body, (
                f"a POST form in {template.relative_to(ROOT)} lacks {{{{ csrf_field() }}}}"
            )
    assert forms >= 15
