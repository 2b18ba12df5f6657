"""Compliance's KYC pages: the queue, the case page with profile and documents side by side,
document and case decisions (four eyes for high risk), risk overrides, and the KYC settings.

Every decision is audited with before/after and mailed to the client in their language.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from backoffice.guards import permission
from core import clock
from core.audit.service import record_audit
from core.config_store import history_of
from core.i18n import current_language
from core.mail.outbox import queue_mail
from core.storage import EncryptedFileStore
from core.web.auth import actor_for, signed_in
from core.web.forms import form_fields
from core.web.state import app_services
from kyc import documents, review
from kyc.config import (
    CountryLists,
    country_lists_to_json,
    load_country_lists,
    load_questionnaire,
    parse_country_codes,
    parse_questionnaire,
    questionnaire_to_json,
    save_country_lists,
    save_questionnaire,
)
from kyc.countries import countries
from kyc.errors import DocumentNotFoundError, InvalidConfigError, ReviewError, SameReviewerError
from kyc.models import CaseStatus, KycCase, KycDocument, RiskLevel
from kyc.notifications import notify_case_decision, notify_document_review
from kyc.queue import QueueFilter, list_queue, load_case_view

FILE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}
INLINE_TYPES = frozenset({"image/jpeg", "image/png"})


def _reason(form: dict[str, str]) -> str:
    """Free text wins over the listed reason, so a reviewer can be specific."""
    return (form.get("reason_other") or form.get("reason") or "").strip()[:500]


def _filters(request: Request[Any, Any, Any]) -> QueueFilter:
    query = request.query_params
    status = query.get("status") or ""
    risk = query.get("risk") or ""
    return QueueFilter(
        status=CaseStatus(status) if status in {s.value for s in CaseStatus} else None,
        risk=RiskLevel(risk) if risk in {r.value for r in RiskLevel} else None,
        country=(query.get("country") or "").strip().upper()[:2],
    )


class KycReviewController(Controller):
    """The compliance queue and the case page (permission ``kyc.review``)."""

    path = "/kyc"
    include_in_schema = False
    opt = permission("kyc.review")

    @get("/", name="backoffice.kyc.queue")
    async def queue(self, request: Request[Any, Any, Any]) -> Template:
        filters = _filters(request)
        async with app_services(request.app).database.session() as session:
            rows = await list_queue(session, filters)
        context = {
            "rows": rows,
            "filters": filters,
            "statuses": [s.value for s in CaseStatus],
            "risks": [r.value for r in RiskLevel],
            "countries": countries(current_language()),
            "now": clock.utcnow().replace(tzinfo=None),
        }
        return Template("kyc/queue.html", context=context)

    @get("/{client_id:int}", name="backoffice.kyc.case")
    async def case_page(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Template:
        async with app_services(request.app).database.session() as session:
            view = await load_case_view(session, client_id)
        if view is None:
            raise NotFoundException()
        me = signed_in(request)
        context = {
            "view": view,
            "case": view.case,
            "reasons": review.REJECTION_REASONS,
            "risks": [r.value for r in RiskLevel],
            "countries": countries(current_language()),
            "is_open": view.case.status in review.OPEN_STATUSES,
            "awaiting_me_again": view.case.status is CaseStatus.AWAITING_SECOND_REVIEW
            and view.case.first_reviewer_id == me.user.id,
            "inline_types": INLINE_TYPES,
        }
        return Template("kyc/case.html", context=context)

    @get("/documents/{document_id:int}/file", name="backoffice.kyc.document.file")
    async def document_file(
        self, request: Request[Any, Any, Any], document_id: FromPath[int]
    ) -> Response[bytes]:
        me = signed_in(request)
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                document, data = await documents.read_document(
                    session,
                    EncryptedFileStore.from_settings(services.settings),
                    document_id,
                    documents.Viewer(me.user.id, is_reviewer=True),
                )
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.document_viewed",
                    target_type="kyc_document",
                    target_id=document.id,
                    after={"client_id": document.client_id},
                )
        except DocumentNotFoundError:
            raise NotFoundException() from None
        disposition = "inline" if document.content_type in INLINE_TYPES else "attachment"
        name = documents.safe_filename(document.original_name)
        return Response(
            data,
            media_type=document.content_type,
            headers={**FILE_HEADERS, "Content-Disposition": f'{disposition}; filename="{name}"'},
        )

    @post("/documents/{document_id:int}/review", name="backoffice.kyc.document.review")
    async def review_document(self, request: Request[Any, Any, Any], document_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        approve = form.get("decision") == "approve"
        me = signed_in(request)
        services = app_services(request.app)
        async with services.database.session() as session:
            found = await session.get(KycDocument, document_id)
            if found is None:
                raise NotFoundException()
            client_id, status_before = found.client_id, found.status.value
        try:
            async with services.database.transaction() as session:
                document = await review.review_document(
                    session,
                    document_id,
                    me.user.id,
                    approve=approve,
                    reason=None if approve else _reason(form),
                    now=clock.utcnow(),
                )
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.document_approved" if approve else "kyc.document_rejected",
                    target_type="kyc_document",
                    target_id=document.id,
                    before={"status": status_before, "client_id": client_id},
                    after={"status": document.status.value, "reason": document.rejection_reason},
                )
                await notify_document_review(
                    session, document, services.settings.public_portal_url, queue_mail=queue_mail
                )
        except ReviewError as exc:
            flash(request, str(exc), category="error")
            return Redirect(f"/kyc/{client_id}", status_code=303)
        flash(request, "Document approved." if approve else "Document rejected.", category="success")
        return Redirect(f"/kyc/{client_id}", status_code=303)

    @post("/{client_id:int}/decide", name="backoffice.kyc.decide")
    async def decide(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        approve = form.get("decision") == "approve"
        me = signed_in(request)
        services = app_services(request.app)
        async with services.database.session() as session:
            found = await session.get(KycCase, client_id)
            if found is None:
                raise NotFoundException()
            before = {"status": found.status.value, "level": found.level.value}
        try:
            async with services.database.transaction() as session:
                case = await review.decide(
                    session,
                    client_id,
                    me.user.id,
                    approve=approve,
                    reason=_reason(form) or None,
                    now=clock.utcnow(),
                )
                action = {
                    CaseStatus.APPROVED: "kyc.case_approved",
                    CaseStatus.AWAITING_SECOND_REVIEW: "kyc.case_first_approval",
                }.get(case.status, "kyc.case_rejected")
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    action,
                    target_type="kyc_case",
                    target_id=client_id,
                    before=before,
                    after={
                        "status": case.status.value,
                        "level": case.level.value,
                        "reason": case.decision_reason,
                        "risk": case.effective_risk.value,
                    },
                )
                await notify_case_decision(
                    session, case, services.settings.public_portal_url, queue_mail=queue_mail
                )
        except SameReviewerError:
            flash(
                request, "A second, different reviewer must confirm this high-risk client.", category="error"
            )
            return Redirect(f"/kyc/{client_id}", status_code=303)
        except ReviewError as exc:
            flash(request, str(exc), category="error")
            return Redirect(f"/kyc/{client_id}", status_code=303)
        if case.status is CaseStatus.AWAITING_SECOND_REVIEW:
            flash(
                request,
                "High-risk client: a second reviewer must now confirm the approval.",
                category="warning",
            )
        else:
            flash(request, "Decision saved and the client informed.", category="success")
        return Redirect(f"/kyc/{client_id}", status_code=303)

    @post("/{client_id:int}/risk", name="backoffice.kyc.risk")
    async def override_risk(self, request: Request[Any, Any, Any], client_id: FromPath[int]) -> Redirect:
        form = await form_fields(request)
        raw = form.get("level", "")
        level = RiskLevel(raw) if raw in {r.value for r in RiskLevel} else None
        me = signed_in(request)
        async with app_services(request.app).database.session() as session:
            found = await session.get(KycCase, client_id)
            if found is None:
                raise NotFoundException()
            before = {
                "risk_override": found.risk_override.value if found.risk_override else None,
                "effective": found.effective_risk.value,
            }
        try:
            async with app_services(request.app).database.transaction() as session:
                case = await review.override_risk(
                    session, client_id, me.user.id, level, form.get("reason", "")
                )
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.risk_overridden",
                    target_type="kyc_case",
                    target_id=client_id,
                    before=before,
                    after={
                        "risk_override": level.value if level else None,
                        "effective": case.effective_risk.value,
                        "reason": case.risk_override_reason,
                    },
                )
        except ReviewError as exc:
            flash(request, str(exc), category="error")
            return Redirect(f"/kyc/{client_id}", status_code=303)
        flash(request, "Risk level saved.", category="success")
        return Redirect(f"/kyc/{client_id}", status_code=303)


def _codes(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


class KycSettingsController(Controller):
    """Questionnaire and country lists (permission ``settings.edit``)."""

    path = "/settings/kyc"
    include_in_schema = False
    opt = permission("settings.edit")

    async def _page(
        self,
        request: Request[Any, Any, Any],
        *,
        overrides: dict[str, str] | None = None,
        error: str = "",
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            questionnaire = await load_questionnaire(session)
            lists = await load_country_lists(session)
            changes = await history_of(session, "kyc_config", ["questionnaire", "countries"])
        values = {
            "questions": json.dumps(
                questionnaire_to_json(questionnaire)["questions"], ensure_ascii=False, indent=2
            ),
            "threshold": str(questionnaire.threshold),
            "high_risk": _codes(lists.high_risk),
            "blocked": _codes(lists.blocked),
            **(overrides or {}),
        }
        context = {
            "values": values,
            "error": error,
            "max_score": questionnaire.max_score,
            "changes": changes,
            "show_target": True,
        }
        return Template("kyc/settings.html", context=context, status_code=status_code)

    @get("/", name="backoffice.kyc.settings")
    async def settings_page(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    @post("/questionnaire", name="backoffice.kyc.settings.questionnaire")
    async def save_questionnaire(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await self._long_form(request)
        me = signed_in(request)
        try:
            config = parse_questionnaire(form.get("questions", ""), form.get("threshold", ""))
            async with app_services(request.app).database.transaction() as session:
                before = questionnaire_to_json(await load_questionnaire(session))
                await save_questionnaire(session, config, me.user.id)
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.settings_changed",
                    target_type="kyc_config",
                    target_id="questionnaire",
                    before=before,
                    after=questionnaire_to_json(config),
                )
        except InvalidConfigError as exc:
            overrides = {"questions": form.get("questions", ""), "threshold": form.get("threshold", "")}
            return await self._page(request, overrides=overrides, error=str(exc), status_code=400)
        flash(request, "The questionnaire has been saved.", category="success")
        return Redirect("/settings/kyc", status_code=303)

    @post("/countries", name="backoffice.kyc.settings.countries")
    async def save_countries(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await self._long_form(request)
        me = signed_in(request)
        try:
            lists = CountryLists(
                high_risk=parse_country_codes(form.get("high_risk", "")),
                blocked=parse_country_codes(form.get("blocked", "")),
            )
            async with app_services(request.app).database.transaction() as session:
                before = country_lists_to_json(await load_country_lists(session))
                await save_country_lists(session, lists, me.user.id)
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.settings_changed",
                    target_type="kyc_config",
                    target_id="countries",
                    before=before,
                    after=country_lists_to_json(lists),
                )
        except InvalidConfigError as exc:
            overrides = {"high_risk": form.get("high_risk", ""), "blocked": form.get("blocked", "")}
            return await self._page(request, overrides=overrides, error=str(exc), status_code=400)
        flash(request, "The country lists have been saved.", category="success")
        return Redirect("/settings/kyc", status_code=303)

    async def _long_form(self, request: Request[Any, Any, Any]) -> dict[str, str]:
        """The questionnaire's JSON is longer than an ordinary field; cap it at 64 KB."""
        form = await request.form()
        return {key: str(value)[:65536] for key, value in form.items() if key != "_csrf_token"}
