"""Staff sign-in: password, then TOTP, or TOTP enrolment on first sign-in. Public by nature."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from core.identity.models import STAFF
from core.identity.two_factor import enrolment_for
from core.web.auth import STAGE_ENROL, STAGE_TOTP, pending_user_id
from core.web.forms import form_fields
from core.web.language import safe_next
from core.web.signin import DONE, enrol_step, login_from_form, pending_enrolment_user, second_factor_step

ENROL_INTRO = "Staff must use two-factor authentication. Set it up now to continue."


class StaffSignInController(Controller):
    include_in_schema = False

    @get("/login", name="backoffice.login")
    async def login_form(self, next: FromQuery[str | None] = None) -> Template:
        return Template("auth/login.html", context={"next": safe_next(next)})

    @post("/login", name="backoffice.login.submit")
    async def login(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        attempt = await login_from_form(request, STAFF)
        step, target = attempt.step, attempt.target
        if not step.ok:
            return attempt.form_again()
        if step.next_stage == STAGE_ENROL:
            return Redirect("/enrol-2fa", status_code=303)
        return Redirect(f"/login/2fa?next={target}", status_code=303)

    @get("/login/2fa", name="backoffice.login.2fa")
    async def second_factor_form(
        self,
        request: Request[Any, Any, Any],
        next: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        if pending_user_id(request, STAGE_TOTP) is None:
            return Redirect("/login", status_code=303)
        return Template("auth/second_factor.html", context={"next": safe_next(next)})

    @post("/login/2fa", name="backoffice.login.2fa.submit")
    async def second_factor(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        target = safe_next(form.get("next"))
        step = await second_factor_step(request, form.get("code", ""))
        if step.next_stage == DONE:
            return Redirect(target, status_code=303)
        context = {"next": target, "error": step.error, "error_args": step.error_args}
        return Template("auth/second_factor.html", context=context, status_code=step.status_code)

    @get("/enrol-2fa", name="backoffice.enrol_2fa")
    async def enrol_form(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        user = await pending_enrolment_user(request)
        if user is None:
            return Redirect("/login", status_code=303)
        context = {"enrolment": enrolment_for(user), "action": "/enrol-2fa", "intro": ENROL_INTRO}
        return Template("auth/enrol_totp.html", context=context)

    @post("/enrol-2fa", name="backoffice.enrol_2fa.submit")
    async def enrol(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        step, codes = await enrol_step(request, form.get("code", ""))
        if step.next_stage == DONE:
            return Template("auth/recovery_codes.html", context={"codes": codes, "continue_to": "/"})
        user = await pending_enrolment_user(request)
        if user is None:
            return Redirect("/login", status_code=303)
        context = {
            "enrolment": enrolment_for(user),
            "action": "/enrol-2fa",
            "intro": ENROL_INTRO,
            "error": step.error,
            "error_args": step.error_args,
        }
        return Template("auth/enrol_totp.html", context=context, status_code=step.status_code)
