"""The back office's wiring point: its routes, templates and navigation, on the shared app factory."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router

from backoffice import (
    account,
    api,
    audit,
    campaigns,
    campaigns_api,
    clients,
    crm_work,
    dealing,
    finance,
    ib_staff,
    jobs,
    knowledge,
    kyc,
    mailbox,
    pages,
    rates,
    reports,
    risk,
    roles,
    settings_analytics,
    settings_announcements,
    settings_cashier,
    settings_company,
    settings_index,
    settings_mail,
    signin,
    staff,
    support,
    webhooks,
    webhooks_api,
)
from backoffice.guards import requires_permission
from core.db import Database
from core.settings import Settings, load_settings
from core.web.app_factory import AppSpec, NavItem, build_app
from core.web.auth import SIGN_IN_HANDLERS
from knowledge import KNOWLEDGE_LOCALES
from kyc.notifications import KYC_LOCALES
from mt_bridge.messages import BRIDGE_LOCALES
from reports import REPORTS_LOCALES
from support.labels import SUPPORT_LOCALES

HERE = Path(__file__).parent

NAVIGATION = (
    NavItem("Dashboard", "/"),
    NavItem("Clients", "/clients"),
    NavItem("Leads", "/leads"),
    NavItem("My tasks", "/tasks"),
    NavItem("Compliance queue", "/kyc"),
    NavItem("Settings", "/settings"),
    NavItem("Deposits", "/finance/deposits"),
    NavItem("Withdrawals", "/finance/withdrawals"),
    NavItem("Transfers", "/finance/transfers"),
    NavItem("Bank accounts", "/finance/bank-accounts"),
    NavItem("Rates", "/finance/rates"),
    NavItem("Products", "/products/servers"),
    NavItem("Account approvals", "/dealing/approvals"),
    NavItem("Bridge commands", "/dealing/commands"),
    NavItem("Reconciliation", "/dealing/reconciliation"),
    NavItem("IB", "/ib/applications"),
    NavItem("Risk alerts", "/risk/alerts"),
    NavItem("Support", "/support"),
    NavItem("Reports", "/reports"),
    NavItem("Campaigns", "/campaigns"),
    NavItem("Help articles", "/knowledge"),
    NavItem("Dead-letter jobs", "/jobs/dead"),
    NavItem("Webhooks", "/webhooks"),
    NavItem("Staff", "/staff"),
    NavItem("Roles", "/roles"),
    NavItem("Audit log", "/audit"),
    NavItem("Dev mailbox", "/dev/mailbox"),
)


def protected_router() -> Router:
    """Every staff page except sign-in: the guard checks each route's declared permission."""
    return Router(
        path="/",
        route_handlers=[
            pages.DashboardController,
            account.StaffAccountController,
            staff.StaffController,
            roles.RolesController,
            audit.AuditController,
            mailbox.MailboxController,
            kyc.KycReviewController,
            kyc.KycSettingsController,
            settings_index.SettingsIndexController,
            settings_company.CompanySettingsController,
            settings_cashier.BankDetailsController,
            settings_cashier.LimitsController,
            settings_cashier.FeesController,
            settings_mail.MailTemplatesController,
            settings_announcements.AnnouncementsController,
            campaigns.CampaignsController,
            campaigns_api.router,
            settings_analytics.AnalyticsSettingsController,
            finance.DepositQueueController,
            finance.WithdrawalQueueController,
            finance.BankAccountQueueController,
            finance.TransferQueueController,
            rates.RatesController,
            dealing.ProductCatalogueController,
            dealing.AccountApprovalController,
            dealing.BridgeCommandController,
            dealing.ReconciliationController,
            *ib_staff.CONTROLLERS,
            risk.RiskAlertController,
            risk.RiskSettingsController,
            support.SupportQueueController,
            support.SupportSettingsController,
            reports.ReportsController,
            jobs.DeadLetterController,
            knowledge.KnowledgeController,
            webhooks.WebhooksController,
            *clients.CONTROLLERS,
            *crm_work.CONTROLLERS,
            api.router,
            webhooks_api.router,
        ],
        guards=[requires_permission],
        exception_handlers=SIGN_IN_HANDLERS,
    )


def backoffice_spec() -> AppSpec:
    return AppSpec(
        name="backoffice",
        title="Back office",
        route_handlers=[signin.StaffSignInController, protected_router()],
        template_dir=HERE / "templates",
        static_dir=HERE / "static",
        nav=NAVIGATION,
        session_cookie="bd_staff_session",
        csrf_cookie="bd_staff_csrf",
        locale_dirs=[
            HERE / "locales",
            HERE / "clients_locales",
            HERE / "campaigns_locales",
            HERE / "webhooks_locales",
            HERE / "analytics_locales",
            KYC_LOCALES,
            BRIDGE_LOCALES,
            REPORTS_LOCALES,
            KNOWLEDGE_LOCALES,
            SUPPORT_LOCALES,
        ],
        api_description="BrokerDesk back-office API for staff integrations.",
    )


def create_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    """The back-office app; ``uvicorn --factory backoffice.app:create_app`` serves it."""
    return build_app(backoffice_spec(), settings or load_settings(), database=database)
