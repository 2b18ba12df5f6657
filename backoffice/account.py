"""The signed-in staff member's own account: sessions, password, sign-out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import SIGNED_IN, permission
from core.web import account_pages
from core.web.forms import form_fields


class StaffAccountController(Controller):
    include_in_schema = False
    opt = permission(SIGNED_IN)

    @get("/account", name="backoffice.account")
    async def account(self, request: Request[Any, Any, Any]) -> Template:
        return Template("account.html", context=await account_pages.account_context(request))

    @post("/account/password", name="backoffice.account.password")
    async def change_password(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        error = await account_pages.change_password(
            request, form.get("current_password", ""), form.get("new_password", "")
        )
        if error:
            context = {**await account_pages.account_context(request), "password_error": error}
            return Template("account.html", context=context, status_code=400)
        flash(request, account_pages.PASSWORD_CHANGED, category="success")
        return Redirect("/account", status_code=303)

    @post("/account/sessions/revoke", name="backoffice.account.sessions.revoke")
    async def revoke_session(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)
        if await account_pages.revoke_session(request, form.get("session_id", "")):
            flash(request, "The session has been signed out.", category="success")
        return Redirect("/account#sessions", status_code=303)

    @post("/logout", name="backoffice.logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        await account_pages.sign_out(request)
        return Redirect("/login", status_code=303)
