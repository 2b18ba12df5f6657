"""The scheme simulator page: staff paste or upload a scenario (docs/ib-scenarios.md) and see each
IB's lines and totals. It calls the same :func:`ib.simulator.simulate` and prints the same text
(:func:`ib.simulator.as_text`) as ``brokerdesk ib simulate``, so page and command always agree and
both run the production calculation core. Nothing is written but the audit event."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.response import Template

from backoffice.guards import permission
from backoffice.ib_staff.common import IB_MANAGE, database, staff_actor
from core.audit.service import record_audit
from ib.errors import ScenarioError
from ib.simulator import as_text, load, simulate

MAX_SCENARIO_BYTES = 2_000_000


async def scenario_text(request: Request[Any, Any, Any]) -> str:
    """The uploaded file if there is one, else the pasted text."""
    form = await request.form()
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        if len(data) > MAX_SCENARIO_BYTES:
            raise ScenarioError("the scenario file is larger than 2 MB")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ScenarioError("the scenario file is not UTF-8 text") from None
    text = form.get("scenario")
    return text if isinstance(text, str) else ""


class IbSimulatorController(Controller):
    path = "/ib/simulator"
    include_in_schema = False
    opt = permission(IB_MANAGE)

    @get("/", name="backoffice.ib.simulator")
    async def page(self) -> Template:
        return Template("ib/simulator.html", context={"scenario": "", "result": None, "error": ""})

    @post("/", name="backoffice.ib.simulator.run")
    async def run(self, request: Request[Any, Any, Any]) -> Template:
        text = ""
        try:
            text = await scenario_text(request)
            if not text.strip():
                raise ScenarioError("paste a scenario or choose a file")
            result = simulate(load(text))
        except ScenarioError as exc:
            refused: dict[str, Any] = {"scenario": text, "result": None, "error": str(exc)}
            return Template("ib/simulator.html", context=refused, status_code=400)
        async with database(request).transaction() as session:
            await record_audit(
                session,
                staff_actor(request),
                "ib.scenario_simulated",
                after={"ibs": len(result["ibs"]), "total": result["total"], "currency": result["currency"]},
            )
        context = {"scenario": text, "result": result, "output": as_text(result), "error": ""}
        return Template("ib/simulator.html", context=context)
