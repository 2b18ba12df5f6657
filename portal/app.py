"""The portal's wiring point: its routes, templates and navigation, on the shared app factory."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar

from core.db import Database
from core.settings import Settings, load_settings
from core.web.app_factory import AppSpec, NavItem, build_app
from core.web.device import DeviceCookieMiddleware
from core.web.security_headers import origin_of
from ib import web as ib_web
from knowledge import KNOWLEDGE_LOCALES
from kyc.notifications import KYC_LOCALES
from mt_bridge.messages import BRIDGE_LOCALES
from portal import (
    accounts,
    announcements,
    api,
    campaign_links,
    funding,
    funding_api,
    help_api,
    help_centre,
    kyc,
    kyc_webhooks,
    pages,
    psp_webhooks,
    security,
    support,
    support_api,
    trading,
)
from portal.company_footer import CompanyFooterMiddleware
from support.labels import SUPPORT_LOCALES

HERE = Path(__file__).parent

NAVIGATION = (
    NavItem("Home", "/"),
    NavItem("Verification", "/kyc"),
    NavItem("Funding", "/funding"),
    NavItem("Trading accounts", "/trading"),
    NavItem("Partners", "/ib"),
    NavItem("Announcements", "/announcements"),
    NavItem("Help", "/help"),
    NavItem("Support", "/support"),
    NavItem("My account", "/account"),
)


def redirect_targets(settings: Settings) -> list[str]:
    """Where the portal's forms send clients on: the PSP's hosted payment page (a card deposit)
    and the verification vendor (a KYC check), so the CSP's ``form-action`` lets them go."""
    origins = (origin_of(url) for url in (settings.psp_sandbox_url, settings.kyc_sandbox_url))
    return sorted({origin for origin in origins if origin})


def portal_spec() -> AppSpec:
    return AppSpec(
        name="portal",
        title="Client portal",
        route_handlers=[
            pages.HomeController,
            accounts.AccountController,
            announcements.AnnouncementsController,
            campaign_links.CampaignLinksController,
            help_centre.HelpController,
            security.SecurityController,
            kyc.KycController,
            kyc_webhooks.KycWebhookController,
            funding.FundingController,
            trading.TradingAccountController,
            psp_webhooks.PspWebhookController,
            support.SupportController,
            api.router,
            funding_api.router,
            help_api.router,
            support_api.router,
            *ib_web.ROUTE_HANDLERS,
        ],
        template_dir=HERE / "templates",
        extra_template_dirs=[ib_web.TEMPLATES],
        extra_static_dirs=[ib_web.STATIC],
        nav=NAVIGATION,
        session_cookie="bd_portal_session",
        csrf_cookie="bd_portal_csrf",
        locale_dirs=[
            HERE / "locales",
            HERE / "campaigns_locales",
            KYC_LOCALES,
            BRIDGE_LOCALES,
            ib_web.LOCALES,
            KNOWLEDGE_LOCALES,
            SUPPORT_LOCALES,
        ],
        api_description="BrokerDesk client portal API for integrations.",
        form_targets=redirect_targets,
        middleware=[DeviceCookieMiddleware, CompanyFooterMiddleware()],
    )


def create_app(settings: Settings | None = None, database: Database | None = None) -> Litestar:
    """The portal app; ``uvicorn --factory portal.app:create_app`` serves it."""
    return build_app(portal_spec(), settings or load_settings(), database=database)
