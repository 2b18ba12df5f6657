"""Public account pages of the portal: register, confirm email, sign in, forgot and reset password.

Controllers only read the form, call :mod:`core.identity` and the shared sign-in steps, and render.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from core import clock
from core.i18n import current_language
from core.identity import accounts, tokens
from core.identity.errors import InvalidTokenError, RateLimitedError, WeakPasswordError
from core.identity.models import CLIENT
from core.web.auth import STAGE_TOTP, actor_for, client_of, pending_user_id, throttle_for
from core.web.device import ensure_device
from core.web.forms import form_fields
from core.web.language import safe_next
from core.web.signin import DONE, limited, login_from_form, second_factor_step
from core.web.state import app_services
from ib import attribution
from ib.errors import AttributionError

CHECK_INBOX = "If this address can receive mail from us, we have sent you a message. Please check your inbox."
BAD_LINK = "This link is invalid, has been used already or has expired."
INVALID_EMAIL = "Enter a valid email address."
UNKNOWN_REFERRAL_CODE = "This referral code is not known. Check it, or leave the field empty."


def _message(
    heading: str, message: str = "", *, error: str = "", status_code: int = 200, **extra: Any
) -> Template:
    context = {"heading": heading, "message": message, "error": error, **extra}
    return Template("auth/message.html", context=context, status_code=status_code)


class AccountController(Controller):
    """Sign-up, sign-in and password recovery for clients."""

    include_in_schema = False

    @get("/register", name="portal.register")
    async def register_form(self, ref: FromQuery[str | None] = None) -> Template:
        return Template("register.html", context={"referral_code": accounts.clean_referral_code(ref) or ""})

    @post("/register", name="portal.register.submit")
    async def register(self, request: Request[Any, Any, Any]) -> Template:
        form = await form_fields(request)
        ensure_device(request)  # the device cookie the risk rules recognise later sign-ins by
        context = {"email": form.get("email", ""), "referral_code": form.get("referral_code", "")}
        try:
            await throttle_for(request).check_ip("register", client_of(request).ip)
            await throttle_for(request).check_account_attempts("register", form.get("email", ""))
        except RateLimitedError as exc:
            step = limited(exc)
            return Template(
                "register.html",
                context={**context, "error": step.error, "error_args": step.error_args},
                status_code=429,
            )
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                typed_code = form.get("referral_code", "").strip()
                referral_code = accounts.clean_referral_code(typed_code)
                # The code is checked before the email, so the answer says nothing of who is registered.
                if typed_code and referral_code is None:
                    raise AttributionError("malformed referral code")
                if referral_code:
                    await attribution.active_link(session, referral_code)
                client = await accounts.register_client(
                    session,
                    services.settings,
                    email=form.get("email", ""),
                    password=form.get("password", ""),
                    language=current_language(),
                    referral_code=referral_code,
                    actor=actor_for(request, None),
                )
                if client is not None and referral_code:
                    await attribution.register_through_link(
                        session, client.id, referral_code, now=clock.utcnow()
                    )
        except AttributionError:
            return Template(
                "register.html", context={**context, "error": UNKNOWN_REFERRAL_CODE}, status_code=400
            )
        except accounts.InvalidEmailError:
            return Template("register.html", context={**context, "error": INVALID_EMAIL}, status_code=400)
        except WeakPasswordError as exc:
            return Template("register.html", context={**context, "error": str(exc)}, status_code=400)
        return _message("Check your inbox", CHECK_INBOX)

    @get("/verify-email/{token:str}", name="portal.verify_email")
    async def verify_email_form(self, token: FromPath[str]) -> Template:
        """A button rather than an instant confirmation, so mail scanners opening links use nothing."""
        return Template("verify_email.html", context={"token": token})

    @post("/verify-email/{token:str}", name="portal.verify_email.submit")
    async def verify_email(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                await accounts.verify_email(session, token, actor_for(request, None))
        except InvalidTokenError:
            return _message("Confirm your email address", error=BAD_LINK, status_code=400)
        return _message(
            "Email address confirmed",
            "Your email address is confirmed. You can sign in now.",
            link="/login",
            link_label="Sign in",
        )

    @get("/login", name="portal.login")
    async def login_form(self, next: FromQuery[str | None] = None) -> Template:
        return Template("auth/login.html", context={"next": safe_next(next)})

    @post("/login", name="portal.login.submit")
    async def login(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        attempt = await login_from_form(request, CLIENT)
        step, target = attempt.step, attempt.target
        if not step.ok:
            return attempt.form_again()
        if step.next_stage == STAGE_TOTP:
            return Redirect(f"/login/2fa?next={target}", status_code=303)
        return Redirect(target, status_code=303)

    @get("/login/2fa", name="portal.login.2fa")
    async def second_factor_form(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if pending_user_id(request, STAGE_TOTP) is None:
            return Redirect("/login", status_code=303)
        return Template("auth/second_factor.html", context={"next": safe_next(next)})

    @post("/login/2fa", name="portal.login.2fa.submit")
    async def second_factor(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        target = safe_next(form.get("next"))
        step = await second_factor_step(request, form.get("code", ""))
        if step.next_stage == DONE:
            return Redirect(target, status_code=303)
        context = {"next": target, "error": step.error, "error_args": step.error_args}
        return Template("auth/second_factor.html", context=context, status_code=step.status_code)

    @get("/forgot-password", name="portal.forgot_password")
    async def forgot_form(self) -> Template:
        return Template("forgot_password.html")

    @post("/forgot-password", name="portal.forgot_password.submit")
    async def forgot(self, request: Request[Any, Any, Any]) -> Template:
        form = await form_fields(request)
        email = accounts.normalise_email(form.get("email", ""))
        throttle = throttle_for(request)
        try:
            await throttle.check_ip("reset", client_of(request).ip)
            await throttle.check_account_attempts("reset", email)  # a mailbox can't be flooded
        except RateLimitedError as exc:
            step = limited(exc)
            context = {"error": step.error, "error_args": step.error_args}
            return Template("forgot_password.html", context=context, status_code=429)
        services = app_services(request.app)
        async with services.database.transaction() as session:
            await accounts.request_password_reset(
                session,
                services.settings,
                CLIENT,
                email,
                services.settings.public_portal_url,
                actor_for(request, None),
            )
        return _message("Check your inbox", CHECK_INBOX)

    @get("/reset-password/{token:str}", name="portal.reset_password")
    async def reset_form(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        async with app_services(request.app).database.session() as session:
            usable = await tokens.peek_token(session, token, tokens.RESET_PASSWORD)
        if usable is None:
            return _message("Reset your password", error=BAD_LINK, status_code=400)
        return Template("reset_password.html", context={"token": token})

    @post("/reset-password/{token:str}", name="portal.reset_password.submit")
    async def reset(self, request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
        form = await form_fields(request)
        try:
            await throttle_for(request).check_ip("reset", client_of(request).ip)
        except RateLimitedError as exc:
            step = limited(exc)
            return _message(
                "Reset your password", error=step.error, status_code=429, error_args=step.error_args
            )
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                await accounts.reset_password(
                    session, services.settings, token, form.get("password", ""), actor_for(request, None)
                )
        except InvalidTokenError:
            return _message("Reset your password", error=BAD_LINK, status_code=400)
        except WeakPasswordError as exc:
            return Template(
                "reset_password.html", context={"token": token, "error": str(exc)}, status_code=400
            )
        return _message(
            "Password changed",
            "Your password has been changed. Please sign in with the new one.",
            link="/login",
            link_label="Sign in",
        )
