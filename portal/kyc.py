"""The client's verification pages: overview, profile wizard, questionnaire, documents, submission
and the optional check by a verification vendor.

Controllers read the request, call :mod:`kyc` and turn its errors into messages beside the fields
or flash messages. Every route is behind sign-in and works on the signed-in client's own data only.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template

from core import clock
from core.audit.service import record_audit
from core.i18n import current_language
from core.storage import EncryptedFileStore
from core.web.auth import SIGN_IN_HANDLERS, actor_for, requires_sign_in, signed_in
from core.web.forms import MAX_FIELD, form_fields
from core.web.state import app_services
from kyc import documents, review
from kyc.config import load_questionnaire
from kyc.countries import countries
from kyc.errors import (
    DocumentNotFoundError,
    FileTooLargeError,
    InvalidProfileError,
    ProviderUnavailableError,
    ReviewError,
    UnsupportedFileError,
)
from kyc.models import CaseStatus, DocumentKind, DocumentSide, KycCase, KycProfileVersion
from kyc.profile import (
    EMPLOYMENT_STATUSES,
    SOURCES_OF_FUNDS,
    WIZARD_STEPS,
    ProfileInput,
    add_profile_version,
    latest_profile,
    validate_fields,
    validate_profile,
)
from kyc.providers import WEBHOOK_PATH, open_sandbox_applicant
from kyc.questionnaire import submit_questionnaire

DRAFT_KEY = "kyc_draft"
STEP_NAMES = tuple(name for name, _names in WIZARD_STEPS)
BOOLEAN_FIELDS = frozenset({"is_pep", "is_sanctioned"})
PROFILE_FIELDS = tuple(f.name for f in fields(ProfileInput))
FILE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def file_response(document: Any, data: bytes, *, inline: bool) -> Response[bytes]:
    """A stored document's bytes: never cached, never sniffed, named safely."""
    disposition = "inline" if inline else "attachment"
    name = documents.safe_filename(document.original_name)
    return Response(
        data,
        media_type=document.content_type,
        headers={**FILE_HEADERS, "Content-Disposition": f'{disposition}; filename="{name}"'},
    )


def _profile_as_input(profile: KycProfileVersion | None) -> dict[str, Any]:
    if profile is None:
        return {}
    values: dict[str, Any] = {name: getattr(profile, name) for name in PROFILE_FIELDS}
    values["birth_date"] = profile.birth_date.isoformat()
    return values


def _draft(request: Request[Any, Any, Any]) -> dict[str, Any]:
    draft = request.session.get(DRAFT_KEY)
    return dict(draft) if isinstance(draft, dict) else {}


def _store(request: Request[Any, Any, Any]) -> EncryptedFileStore:
    return EncryptedFileStore.from_settings(app_services(request.app).settings)


def _today() -> date:
    return clock.utcnow().date()


class KycController(Controller):
    """Verification pages of the signed-in client."""

    path = "/kyc"
    include_in_schema = False
    guards = [requires_sign_in]
    exception_handlers = SIGN_IN_HANDLERS

    @get("/", name="portal.kyc")
    async def overview(self, request: Request[Any, Any, Any]) -> Template:
        me = signed_in(request)
        services = app_services(request.app)
        async with services.database.session() as session:
            case = await session.get(KycCase, me.user.id)
            profile = await latest_profile(session, me.user.id)
            answers = await review.latest_questionnaire(session, me.user.id)
            docs = await documents.client_documents(session, me.user.id)
        complete = documents.identity_documents_complete(docs, approved_only=False)
        context = {
            "case": case,
            "status": case.status.value if case else CaseStatus.DRAFT.value,
            "level": case.level.value if case else "none",
            "profile": profile,
            "answers": answers,
            "documents": docs,
            "documents_complete": complete,
            "can_submit": case is not None
            and case.level.value != "none"
            and case.status in (CaseStatus.DRAFT, CaseStatus.REJECTED)
            and complete,
            "provider_enabled": bool(services.settings.kyc_sandbox_url),
            "is_open": case is not None and case.status in review.OPEN_STATUSES,
        }
        return Template("kyc/overview.html", context=context)

    @get("/profile", name="portal.kyc.profile")
    async def profile_start(self) -> Redirect:
        return Redirect(f"/kyc/profile/{STEP_NAMES[0]}", status_code=303)

    async def _step_page(
        self,
        request: Request[Any, Any, Any],
        step: str,
        values: dict[str, Any],
        errors: dict[str, str],
        status_code: int = 200,
    ) -> Template:
        names = dict(WIZARD_STEPS)[step]
        index = STEP_NAMES.index(step)
        context = {
            "step": step,
            "step_number": index + 1,
            "step_count": len(STEP_NAMES),
            "steps": STEP_NAMES,
            "previous_step": STEP_NAMES[index - 1] if index else None,
            "field_names": names,
            "values": values,
            "errors": errors,
            "countries": countries(current_language()),
            "employment_statuses": EMPLOYMENT_STATUSES,
            "sources_of_funds": SOURCES_OF_FUNDS,
            "is_last": index == len(STEP_NAMES) - 1,
        }
        return Template("kyc/profile_step.html", context=context, status_code=status_code)

    @get("/profile/{step:str}", name="portal.kyc.profile.step")
    async def profile_step(self, request: Request[Any, Any, Any], step: FromPath[str]) -> Template:
        if step not in STEP_NAMES:
            raise NotFoundException()
        values = _draft(request)
        if not values:
            async with app_services(request.app).database.session() as session:
                values = _profile_as_input(await latest_profile(session, signed_in(request).user.id))
        return await self._step_page(request, step, values, {})

    @post("/profile/{step:str}", name="portal.kyc.profile.step.submit")
    async def profile_step_submit(
        self, request: Request[Any, Any, Any], step: FromPath[str]
    ) -> Template | Redirect:
        if step not in STEP_NAMES:
            raise NotFoundException()
        form = await form_fields(request)
        names = dict(WIZARD_STEPS)[step]
        entered: dict[str, Any] = {
            name: (form.get(name) == "yes") if name in BOOLEAN_FIELDS else form.get(name, "").strip()
            for name in names
        }
        draft = _draft(request)
        if not draft:  # editing a saved profile starts from it, so untouched steps keep their answers
            async with app_services(request.app).database.session() as session:
                draft = _profile_as_input(await latest_profile(session, signed_in(request).user.id))
        draft = {**draft, **entered}
        data = ProfileInput(**{k: v for k, v in draft.items() if k in PROFILE_FIELDS})
        errors = validate_fields(data, names, _today())
        if errors:
            return await self._step_page(request, step, draft, errors, status_code=400)
        request.session[DRAFT_KEY] = draft
        index = STEP_NAMES.index(step)
        if index < len(STEP_NAMES) - 1:
            return Redirect(f"/kyc/profile/{STEP_NAMES[index + 1]}", status_code=303)
        missing = validate_profile(data, _today())
        if missing:
            first = next(s for s, step_names in WIZARD_STEPS if set(step_names) & set(missing))
            flash(request, "Some answers of an earlier step are missing or invalid.", category="error")
            return Redirect(f"/kyc/profile/{first}", status_code=303)
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                profile = await add_profile_version(
                    session, me.user.id, data, actor_id=me.user.id, today=_today()
                )
                case = await review.refresh_case(session, me.user.id, me.user.id, clock.utcnow())
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.profile_saved",
                    target_type="kyc_profile",
                    target_id=me.user.id,
                    after={
                        "version": profile.version,
                        "risk": case.risk_level.value,
                        "level": case.level.value,
                    },
                )
        except InvalidProfileError as exc:  # a race with another tab; show the first step again
            return await self._step_page(request, STEP_NAMES[0], draft, exc.errors, status_code=400)
        request.session.pop(DRAFT_KEY, None)
        flash(request, "Your profile has been saved.", category="success")
        return Redirect("/kyc", status_code=303)

    @get("/questionnaire", name="portal.kyc.questionnaire")
    async def questionnaire(self, request: Request[Any, Any, Any]) -> Template:
        async with app_services(request.app).database.session() as session:
            config = await load_questionnaire(session)
            previous = await review.latest_questionnaire(session, signed_in(request).user.id)
        answers = dict(previous.answers) if previous else {}
        context = {"config": config, "answers": answers, "errors": {}, "warning": False}
        return Template("kyc/questionnaire.html", context=context)

    @post("/questionnaire", name="portal.kyc.questionnaire.submit")
    async def questionnaire_submit(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_fields(request)
        me = signed_in(request)
        acknowledged = form.get("acknowledge") == "yes"
        services = app_services(request.app)
        try:
            async with services.database.transaction() as session:
                config = await load_questionnaire(session)
                answers = {q.key: form.get(q.key, "") for q in config.questions}
                response = await submit_questionnaire(
                    session, me.user.id, answers, acknowledge_warning=acknowledged
                )
                case = await review.refresh_case(session, me.user.id, me.user.id, clock.utcnow())
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.questionnaire_answered",
                    target_type="kyc_questionnaire",
                    target_id=response.id,
                    after={"score": response.score, "passed": response.passed, "level": case.level.value},
                )
        except InvalidProfileError as exc:
            async with services.database.session() as session:
                config = await load_questionnaire(session)
            answers = {q.key: form.get(q.key, "") for q in config.questions}
            context = {
                "config": config,
                "answers": answers,
                "errors": {k: v for k, v in exc.errors.items() if k != "warning"},
                "warning": "warning" in exc.errors,
            }
            return Template("kyc/questionnaire.html", context=context, status_code=400)
        if response.passed:
            flash(request, "Thank you. Your answers have been saved.", category="success")
        else:
            flash(
                request,
                "Your answers have been saved with your confirmation that you understand the risks.",
                category="warning",
            )
        return Redirect("/kyc", status_code=303)

    async def _documents_page(
        self,
        request: Request[Any, Any, Any],
        *,
        error: str = "",
        error_args: dict[str, Any] | None = None,
        field_errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        async with app_services(request.app).database.session() as session:
            docs = await documents.client_documents(session, signed_in(request).user.id)
        context = {
            "documents": docs,
            "kinds": [kind.value for kind in DocumentKind],
            "sides": [side.value for side in DocumentSide],
            "two_sided": sorted(kind.value for kind in documents.TWO_SIDED),
            "max_mb": app_services(request.app).settings.max_upload_bytes / (1024 * 1024),
            "error": error,
            "error_args": error_args or {},
            "field_errors": field_errors or {},
        }
        return Template("kyc/documents.html", context=context, status_code=status_code)

    @get("/documents", name="portal.kyc.documents")
    async def documents_list(self, request: Request[Any, Any, Any]) -> Template:
        return await self._documents_page(request)

    @post("/documents", name="portal.kyc.documents.upload")
    async def upload(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await request.form()
        upload = form.get("file")
        kind_raw, side_raw = str(form.get("kind", ""))[:MAX_FIELD], str(form.get("side", ""))[:MAX_FIELD]
        expires_raw = str(form.get("expires_on", "")).strip()[:MAX_FIELD]
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self._documents_page(request, error="Choose a file to upload.", status_code=400)
        try:
            kind, side = DocumentKind(kind_raw), DocumentSide(side_raw)
        except ValueError:
            return await self._documents_page(
                request, error="Choose the kind of document and its side.", status_code=400
            )
        try:
            expires_on = date.fromisoformat(expires_raw) if expires_raw else None
        except ValueError:
            return await self._documents_page(
                request, field_errors={"expires_on": "Enter a real date as YYYY-MM-DD."}, status_code=400
            )
        settings = app_services(request.app).settings
        data = await upload.read(settings.max_upload_bytes + 1)
        await upload.close()
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                document = await documents.upload_document(
                    session,
                    _store(request),
                    client_id=me.user.id,
                    kind=kind,
                    side=side,
                    filename=upload.filename,
                    data=data,
                    expires_on=expires_on,
                    max_bytes=settings.max_upload_bytes,
                    today=_today(),
                )
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.document_uploaded",
                    target_type="kyc_document",
                    target_id=document.id,
                    after={
                        "kind": kind.value,
                        "side": side.value,
                        "size": document.size_bytes,
                        "sha256": document.sha256,
                    },
                )
        except FileTooLargeError:
            return await self._documents_page(
                request,
                error="The file is larger than %(mb)s MB. Please upload a smaller file.",
                error_args={"mb": f"{settings.max_upload_bytes / (1024 * 1024):g}"},
                status_code=400,
            )
        except UnsupportedFileError as exc:
            return await self._documents_page(request, error=str(exc), status_code=400)
        except InvalidProfileError as exc:
            return await self._documents_page(request, field_errors=exc.errors, status_code=400)
        flash(request, "The document has been uploaded.", category="success")
        return Redirect("/kyc/documents", status_code=303)

    @get("/documents/{document_id:int}/file", name="portal.kyc.documents.file")
    async def download(self, request: Request[Any, Any, Any], document_id: FromPath[int]) -> Response[bytes]:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.session() as session:
                document, data = await documents.read_document(
                    session, _store(request), document_id, documents.Viewer(me.user.id)
                )
        except DocumentNotFoundError:
            raise NotFoundException() from None
        return file_response(document, data, inline=False)

    @post("/submit", name="portal.kyc.submit")
    async def submit(self, request: Request[Any, Any, Any]) -> Redirect:
        me = signed_in(request)
        try:
            async with app_services(request.app).database.transaction() as session:
                case = await review.submit_for_review(session, me.user.id, me.user.id, clock.utcnow())
                await record_audit(
                    session,
                    actor_for(request, me.user),
                    "kyc.submitted",
                    target_type="kyc_case",
                    target_id=me.user.id,
                    after={"status": case.status.value, "risk": case.effective_risk.value},
                )
        except ReviewError as exc:
            flash(request, str(exc), category="error")
            return Redirect("/kyc", status_code=303)
        flash(request, "Thank you. Compliance will review your documents.", category="success")
        return Redirect("/kyc", status_code=303)

    @post("/provider", name="portal.kyc.provider")
    async def verify_with_provider(self, request: Request[Any, Any, Any]) -> Redirect:
        services = app_services(request.app)
        me = signed_in(request)
        if not services.settings.kyc_sandbox_url:
            raise NotFoundException()
        async with services.database.session() as session:
            case = await session.get(KycCase, me.user.id)
        if case is None or case.status not in review.OPEN_STATUSES:
            flash(request, "Submit your documents for review first.", category="error")
            return Redirect("/kyc", status_code=303)
        try:
            page = await open_sandbox_applicant(
                services.settings.kyc_sandbox_url,
                me.user.id,
                services.settings.public_portal_url + WEBHOOK_PATH,
            )
        except ProviderUnavailableError:
            flash(request, "The verification provider is not available. Please try again later.", "error")
            return Redirect("/kyc", status_code=303)
        async with services.database.transaction() as session:
            await record_audit(
                session,
                actor_for(request, me.user),
                "kyc.provider_check_started",
                target_type="kyc_case",
                target_id=me.user.id,
                after={"provider": "sandbox"},
            )
        return Redirect(page, status_code=303)
