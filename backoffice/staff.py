"""Managing staff: list, create, change roles, disable, reset 2FA (permission ``staff.manage``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from core.identity import roles, staff
from core.identity.accounts import InvalidEmailError
from core.identity.errors import DuplicateEmailError, WeakPasswordError
from core.identity.models import User
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields, form_list
from core.web.state import app_services
from crm.assignment import set_data_scope
from crm.errors import InvalidScopeError
from crm.scope import ScopeKind, data_scope_of


async def _staff_or_404(session: Any, user_id: int) -> User:
    user = await staff.get_staff(session, user_id)
    if user is None:
        raise NotFoundException()
    return user


class StaffController(Controller):
    path = "/staff"
    include_in_schema = False
    opt = permission("staff.manage")

    @get("/", name="backoffice.staff.list")
    async def list_staff(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            members = await staff.list_staff(session)
            role_names = {m.id: await roles.role_names_of(session, m.id) for m in members}
        return Template("staff/list.html", context={"members": members, "role_names": role_names})

    @get("/new", name="backoffice.staff.new")
    async def new_form(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            all_roles = await roles.list_roles(session)
        return Template("staff/new.html", context={"roles": all_roles, "chosen": []})

    @post("/new", name="backoffice.staff.create")
    async def create(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        chosen = await form_list(request, "roles")
        services = app_services(request.app)
        me = signed_in(request)
        error = ""
        try:
            async with services.database.transaction() as session:
                created = await staff.create_staff(
                    session,
                    services.settings,
                    email=form.get("email", ""),
                    display_name=form.get("display_name", ""),
                    password=form.get("password", ""),
                    role_names=chosen,
                    actor=actor_for(request, me.user),
                )
        except InvalidEmailError:
            error = "Enter a valid email address."
        except DuplicateEmailError:
            error = "A staff member with this email exists already."
        except (WeakPasswordError, staff.UnknownRoleError) as exc:
            error = str(exc)
        if error:
            async with services.database.session() as session:
                all_roles = await roles.list_roles(session)
            context = {"roles": all_roles, "chosen": chosen, "error": error, **form}
            return Template("staff/new.html", context=context, status_code=400)
        flash(
            request,
            "Staff member created. They set up two-factor authentication at first sign-in.",
            "success",
        )
        return Redirect(f"/staff/{created.id}", status_code=303)

    @get("/{user_id:int}", name="backoffice.staff.detail")
    async def detail(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Template:
        async with app_services(request.app).database.session() as session:
            member = await _staff_or_404(session, user_id)
            held = await roles.role_names_of(session, user_id)
            all_roles = await roles.list_roles(session)
            scope = await data_scope_of(session, user_id)
        context = {
            "member": member,
            "held": held,
            "roles": all_roles,
            "scope": scope,
            "scope_kinds": list(ScopeKind),
        }
        return Template("staff/detail.html", context=context)

    @post("/{user_id:int}/scope", name="backoffice.staff.scope")
    async def set_scope(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Redirect:
        """The data scope: which clients this staff member sees (all, their team's, their own)."""
        form = await form_fields(request)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                await _staff_or_404(session, user_id)
                await set_data_scope(
                    session, actor_for(request, me.user), user_id, form.get("kind", ""), form.get("team", "")
                )
        except InvalidScopeError:
            flash(request, "Data scope: choose all, team or own; a team scope needs a team name.", "error")
            return Redirect(f"/staff/{user_id}", status_code=303)
        flash(request, "Data scope saved.", "success")
        return Redirect(f"/staff/{user_id}", status_code=303)

    @post("/{user_id:int}/roles", name="backoffice.staff.roles")
    async def set_roles(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Redirect:
        chosen = await form_list(request, "roles")
        me = signed_in(request)
        async with app_services(request.app).database.transaction() as session:
            member = await _staff_or_404(session, user_id)
            await staff.set_staff_roles(session, member, chosen, actor_for(request, me.user))
        flash(request, "Roles saved.", "success")
        return Redirect(f"/staff/{user_id}", status_code=303)

    @post("/{user_id:int}/active", name="backoffice.staff.active")
    async def set_active(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        if user_id == me.user.id:
            flash(request, "You cannot disable yourself.", "error")
            return Redirect(f"/staff/{user_id}", status_code=303)
        async with app_services(request.app).database.transaction() as session:
            member = await _staff_or_404(session, user_id)
            await staff.set_staff_active(
                session, member, form.get("active") == "1", actor_for(request, me.user)
            )
        flash(request, "Saved.", "success")
        return Redirect(f"/staff/{user_id}", status_code=303)

    @post("/{user_id:int}/reset-2fa", name="backoffice.staff.reset_2fa")
    async def reset_two_factor(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> Redirect:
        me = signed_in(request)
        async with app_services(request.app).database.transaction() as session:
            member = await _staff_or_404(session, user_id)
            await staff.reset_staff_two_factor(session, member, actor_for(request, me.user))
        flash(request, "Two-factor authentication reset. They set it up again at next sign-in.", "success")
        return Redirect(f"/staff/{user_id}", status_code=303)
