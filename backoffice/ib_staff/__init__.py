"""The back office's IB pages (permission ``ib.manage``): applications, the tree editor, schemes
and ranks, the recompute tool, held payouts, the IB report and the scheme simulator."""

from backoffice.ib_staff.applications import IbApplicationsController
from backoffice.ib_staff.payouts import IbPayoutsController
from backoffice.ib_staff.recompute import IbRecomputeController
from backoffice.ib_staff.report import IbReportController
from backoffice.ib_staff.schemes import IbSchemesController
from backoffice.ib_staff.simulator import IbSimulatorController
from backoffice.ib_staff.tree import IbTreeController

CONTROLLERS = (
    IbApplicationsController,
    IbTreeController,
    IbSchemesController,
    IbRecomputeController,
    IbPayoutsController,
    IbReportController,
    IbSimulatorController,
)
"""Every IB controller, in the order of the IB pages' own navigation."""
