"""The signed-in client's own account: sessions, password change, 2FA, sign-out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from comms import unsubscribe
from core.identity import two_factor
from core.identity.errors import InvalidTotpCodeError
from core.identity.models import User
from core.web import account_pages
from core.web.auth import SIGN_IN_HANDLERS, actor_for, requires_sign_in, signed_in
from core.web.forms import form_fields
from core.web.signin import WRONG_CODE
from core.web.state import app_services


async def _account_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The shared account page's context plus the client's marketing-mail preference."""
    context = await account_pages.account_context(request)
    async with app_services(request.app).database.session() as session:
        context["marketing"] = await unsubscribe.wants_marketing(session, signed_in(request).user.id)
    return context


class SecurityController(Controller):
    """Pages only a signed-in client reaches."""

    include_in_schema = False
    guards = [requires_sign_in]
    exception_handlers = SIGN_IN_HANDLERS

    @get("/account", name="portal.account")
    async def account(self, request: Request[Any, Any, Any]) -> Template:
        return Template("account.html", context=await _account_context(request))

    @post("/account/password", name="portal.account.password")
    async def change_password(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        error = await account_pages.change_password(
            request, form.get("current_password", ""), form.get("new_password", "")
        )
        if error:
            context = {**await _account_context(request), "password_error": error}
            return Template("account.html", context=context, status_code=400)
        flash(request, account_pages.PASSWORD_CHANGED, category="success")
        return Redirect("/account", status_code=303)

    @post("/account/marketing", name="portal.account.marketing")
    async def marketing(self, request: Request[Any, Any, Any]) -> Redirect:
        """Turn marketing mail on or off; transactional mail is not affected."""
        form = await form_fields(request)
        me = signed_in(request)
        wanted = form.get("marketing") == "on"
        async with app_services(request.app).database.transaction() as session:
            await unsubscribe.set_marketing(session, me.user.id, wanted, actor_for(request, me.user))
        flash(
            request,
            "Marketing mail is on." if wanted else "You will receive no more marketing mail.",
            category="success",
        )
        return Redirect("/account#marketing", status_code=303)

    @post("/account/sessions/revoke", name="portal.account.sessions.revoke")
    async def revoke_session(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)
        if await account_pages.revoke_session(request, form.get("session_id", "")):
            flash(request, "The session has been signed out.", category="success")
        return Redirect("/account#sessions", status_code=303)

    @get("/account/2fa/setup", name="portal.account.2fa.setup")
    async def totp_setup_form(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        me = signed_in(request)
        async with app_services(request.app).database.transaction() as session:
            user = await session.get_one(User, me.user.id)
            if user.has_totp:
                return Redirect("/account", status_code=303)
            enrolment = await two_factor.begin_enrolment(session, user)
        return Template(
            "auth/enrol_totp.html", context={"enrolment": enrolment, "action": "/account/2fa/setup"}
        )

    @post("/account/2fa/setup", name="portal.account.2fa.setup.submit")
    async def totp_setup(self, request: Request[Any, Any, Any]) -> Template:
        form = await form_fields(request)
        me = signed_in(request)
        async with app_services(request.app).database.transaction() as session:
            user = await session.get_one(User, me.user.id)
            try:
                codes = await two_factor.confirm_enrolment(
                    session, user, form.get("code", ""), actor_for(request, user)
                )
            except InvalidTotpCodeError:
                codes = []
        if not codes:
            enrolment = two_factor.enrolment_for(user)
            context = {"enrolment": enrolment, "action": "/account/2fa/setup", "error": WRONG_CODE}
            return Template("auth/enrol_totp.html", context=context, status_code=400)
        return Template("auth/recovery_codes.html", context={"codes": codes, "continue_to": "/account"})

    @post("/account/2fa/disable", name="portal.account.2fa.disable")
    async def totp_disable(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        async with app_services(request.app).database.transaction() as session:
            user = await session.get_one(User, me.user.id)
            try:
                await two_factor.disable_two_factor(
                    session, user, form.get("code", ""), actor_for(request, user)
                )
                failed = False
            except InvalidTotpCodeError:
                failed = True
        if failed:
            context = {**await _account_context(request), "totp_error": WRONG_CODE}
            return Template("account.html", context=context, status_code=400)
        flash(request, "Two-factor authentication is off.", category="success")
        return Redirect("/account", status_code=303)

    @post("/logout", name="portal.logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        await account_pages.sign_out(request)
        return Redirect("/login", status_code=303)
