"""Managing roles and their permissions (permission ``roles.manage``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.exc import IntegrityError

from backoffice.guards import permission
from core.identity import roles
from core.identity.errors import UnknownPermissionError
from core.identity.models import Role
from core.identity.permissions import PERMISSIONS
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields, form_list
from core.web.state import app_services


class RolesController(Controller):
    path = "/roles"
    include_in_schema = False
    opt = permission("roles.manage")

    @get("/", name="backoffice.roles.list")
    async def list_roles(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            all_roles = await roles.list_roles(session)
            granted = {role.id: await roles.role_permissions(session, role.id) for role in all_roles}
        return Template(
            "roles/list.html", context={"roles": all_roles, "granted": granted, "permissions": PERMISSIONS}
        )

    @post("/", name="backoffice.roles.create")
    async def create(self, request: Request[Any, Any, Any]) -> Redirect:
        form = await form_fields(request)
        chosen = await form_list(request, "permissions")
        name = form.get("name", "").strip().lower().replace(" ", "_")
        if not name:
            flash(request, "Give the role a name.", "error")
            return Redirect("/roles", status_code=303)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                role = await roles.create_role(
                    session, name, form.get("description", ""), chosen, actor_for(request, me.user)
                )
        except (IntegrityError, UnknownPermissionError):
            flash(request, "A role with this name exists already, or a permission is unknown.", "error")
            return Redirect("/roles", status_code=303)
        flash(request, "Role created.", "success")
        return Redirect(f"/roles/{role.id}", status_code=303)

    @get("/{role_id:int}", name="backoffice.roles.detail")
    async def detail(self, request: Request[Any, Any, Any], role_id: FromPath[int]) -> Template:
        async with app_services(request.app).database.session() as session:
            role = await session.get(Role, role_id)
            if role is None:
                raise NotFoundException()
            granted = await roles.role_permissions(session, role_id)
        return Template(
            "roles/detail.html", context={"role": role, "granted": granted, "permissions": PERMISSIONS}
        )

    @post("/{role_id:int}/permissions", name="backoffice.roles.permissions")
    async def set_permissions(self, request: Request[Any, Any, Any], role_id: FromPath[int]) -> Redirect:
        chosen = await form_list(request, "permissions")
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                role = await session.get(Role, role_id)
                if role is None:
                    raise NotFoundException()
                await roles.set_role_permissions(session, role, chosen, actor_for(request, me.user))
        except UnknownPermissionError:
            flash(request, "A permission is unknown.", "error")
            return Redirect(f"/roles/{role_id}", status_code=303)
        flash(request, "Permissions saved.", "success")
        return Redirect(f"/roles/{role_id}", status_code=303)
