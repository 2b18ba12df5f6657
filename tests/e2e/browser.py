"""What a person does in the browser, as small steps the journey is written in."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import TIMEOUT_MS

LANG_ATTRIBUTE = {"en": "en", "zh_Hans": "zh-Hans"}
POLL_TIMEOUT_SECONDS = 90.0
"""How long a page may take to show what a worker, the scheduler or a webhook does in the background."""


async def new_person(browser: Browser, base_url: str) -> tuple[BrowserContext, Page]:
    """A fresh browser profile (own cookies) with one tab on ``base_url``."""
    context = await browser.new_context(
        base_url=base_url, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    page.on("console", lambda message: print(f"browser console ({message.type}): {message.text}"))
    return context, page


async def switch_language(page: Page, language: str) -> None:
    """Press the language switcher's button and wait for the page to come back in that language."""
    await page.locator(f'form.language-switcher button[value="{language}"]').click()
    await expect(page.locator("html")).to_have_attribute("lang", LANG_ATTRIBUTE[language])


async def screenshots(page: Page, folder: Path, name: str) -> tuple[str, str]:
    """Screenshots of the page in English and in Chinese (through the switcher), back in English after.

    Returns the page's main heading in both languages, so the caller can see it was translated.
    """
    heading = page.locator("main h1").first
    english = (await heading.inner_text()).strip()
    assert await page.screenshot(path=folder / f"{name}.en.png", full_page=True)
    await switch_language(page, "zh_Hans")
    chinese = (await heading.inner_text()).strip()
    assert await page.screenshot(path=folder / f"{name}.zh_Hans.png", full_page=True)
    await switch_language(page, "en")
    await expect(heading).to_have_text(english)
    return english, chinese


async def reload_until(page: Page, path: str, selector: str, *, text: str | None = None) -> None:
    """Open ``path`` again and again until ``selector`` (holding ``text``, if given) is on it.

    For what happens in the background (a worker's job, a webhook, the next sync): the page shows it
    once it has happened, and a person would press reload.
    """
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    pause = 200
    while True:
        await page.goto(path)
        found = page.locator(selector)
        if text is not None:
            found = found.filter(has_text=text)
        if await found.count():
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{path} never showed {selector} {text or ''} in {POLL_TIMEOUT_SECONDS:.0f} s"
            )
        await page.wait_for_timeout(pause)
        pause = min(pause * 2, 2_000)


async def sign_in(page: Page, email: str, password: str, totp_secret: str | None = None) -> None:
    """The sign-in form, then the 2FA code computed from the secret when one is given."""
    await page.goto("/login")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.locator('form[action="/login"] button[type="submit"]').click()
    if totp_secret is not None:
        await expect(page).to_have_url(_path_pattern("/login/2fa"))
        await page.fill("#code", fresh_totp(totp_secret))
        await page.locator('form[action="/login/2fa"] button[type="submit"]').click()
    await expect(page).not_to_have_url(_path_pattern("/login"))


def fresh_totp(secret: str) -> str:
    """The current code, or the next one when the current is about to expire (no flaky edge)."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    if totp.interval - now % totp.interval < 3:
        now += 3
    return totp.at(now)


def _path_pattern(path: str) -> object:
    import re

    return re.compile(rf"^https?://[^/]+{re.escape(path)}(?:[/?].*)?$")


PHONE_WIDTH = 390
"""A phone's screen in CSS pixels (iPhone 12 to 15); every portal page must fit it."""
_WIDER_THAN_SCREEN = """(width) => [...document.querySelectorAll('body *')]
    .filter((element) => element.getBoundingClientRect().right > width + 0.5)
    .filter((element) => {
        for (let up = element.parentElement; up; up = up.parentElement) {
            const box = getComputedStyle(up);
            if (['auto', 'scroll', 'hidden'].includes(box.overflowX)) return false;
        }
        return true;
    })
    .slice(0, 5)
    .map((element) => `${element.tagName.toLowerCase()}.${[...element.classList].join('.')}`
        + ` right=${Math.round(element.getBoundingClientRect().right)}`)"""
"""The first elements that stick out past the screen's right edge (not those scrolling inside a
box of their own): what to fix when a page is too wide."""


async def on_a_phone(browser: Browser, base_url: str, person: BrowserContext) -> tuple[BrowserContext, Page]:
    """A phone-sized tab signed in as ``person`` (their cookies), for the narrow-screen checks."""
    context = await browser.new_context(
        base_url=base_url,
        storage_state=await person.storage_state(),
        locale="en-GB",
        viewport={"width": PHONE_WIDTH, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context, await context.new_page()


async def main_navigation(page: Page) -> list[str]:
    """The paths of the page's main navigation bar, in order: every portal section, including
    those added later."""
    hrefs = await page.locator("header nav.nav > a").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"
    )
    return [href for href in hrefs if href and href.startswith("/")]


def phone_shot_name(who: str, path: str) -> str:
    """``10-phone-client-funding-deposit`` for ``/funding/deposit``."""
    import re

    words = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
    return f"10-phone-{who}-{words}"


async def fits_a_phone(page: Page, path: str, folder: Path, name: str) -> None:
    """Open ``path`` on the phone-sized tab: the page must not scroll sideways
    (``document.documentElement.scrollWidth`` at most the screen's width). A screenshot of the
    whole page goes to ``folder`` as ``<name>.390.png``."""
    answer = await page.goto(path)
    assert answer is not None, f"{path} answered nothing"
    assert answer.ok, f"{path} answered {answer.status}"
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert await page.screenshot(path=folder / f"{name}.{PHONE_WIDTH}.png", full_page=True)
    if width > PHONE_WIDTH:
        culprits = await page.evaluate(_WIDER_THAN_SCREEN, PHONE_WIDTH)
        raise AssertionError(f"{path} is {width} px wide on a {PHONE_WIDTH} px screen: {culprits}")
