"""Builds a BrokerDesk Litestar app; the portal and the back office each pass their own parts.

Everything the two apps share is set up once here: sessions, CSRF, templates with translations,
static files, error pages, security headers, health, metrics, OpenAPI and logging.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    pass_context,
    select_autoescape,
)
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.template.base import csrf_token
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler, Middleware
from markupsafe import Markup, escape
from redis.asyncio import Redis

from core.db import Database
from core.i18n.catalogs import CORE_LOCALES, LANGUAGES, Translator, current_language
from core.logging import configure_logging
from core.security.rate_limit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from core.settings import Settings
from core.web.api_errors import document_api_errors
from core.web.errors import EXCEPTION_HANDLERS
from core.web.health import healthz
from core.web.language import LanguageMiddleware, switch_language
from core.web.path_ids import APP_GUARDS
from core.web.security_headers import security_headers_hook
from core.web.sessions import RotatingSessionConfig
from core.web.state import STATE_KEY, AppServices, app_services
from core.web.template_gettext import install_translations

CORE_TEMPLATES = Path(__file__).parent / "templates"
UPLOAD_ENVELOPE_BYTES = 256 * 1024
"""Room above ``max_upload_bytes`` for a multipart body's other fields and boundaries, so that a
file just over the limit still reaches the page that explains the limit."""
CORE_STATIC = Path(__file__).parent / "static"
SESSION_STORE = "sessions"


@dataclass(frozen=True)
class NavItem:
    """One link in an app's top navigation; ``label`` is an English msgid, translated when shown."""

    label: str
    path: str


@dataclass(frozen=True)
class AppSpec:
    """What makes one app itself: its name, routes, templates, navigation and cookie names."""

    name: str
    title: str
    route_handlers: Sequence[ControllerRouterHandler]
    template_dir: Path
    nav: Sequence[NavItem]
    session_cookie: str
    csrf_cookie: str
    static_dir: Path | None = None
    extra_template_dirs: Sequence[Path] = ()
    """Templates of packages the app composes (the IB portal's pages, say), after the app's own."""
    extra_static_dirs: Sequence[Path] = ()
    """Static files of composed packages, served under ``/static`` beside the app's and the core's."""
    locale_dirs: Sequence[Path] = ()
    api_description: str = ""
    middleware: Sequence[Middleware] = ()
    template_globals: dict[str, Any] = field(default_factory=dict)
    on_startup: Sequence[Callable[[AppServices], Any]] = ()
    form_targets: Callable[[Settings], Sequence[str]] | None = None
    """Origins outside the app that a form's answer may redirect to (the CSP's ``form-action``)."""


async def requires_metrics_token(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """``/metrics`` needs the configured bearer token; production without one serves no metrics."""
    settings = app_services(connection.app).settings
    if not settings.metrics_token:
        if settings.is_production:
            raise NotFoundException()
        return
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
        raise NotAuthorizedException(headers={"WWW-Authenticate": "Bearer"})


class MetricsController(PrometheusController):
    """Prometheus text exposition at ``/metrics``, for the scraper that holds the metrics token."""

    path = "/metrics"
    include_in_schema = False
    guards = [requires_metrics_token]


def session_store(settings: Settings, redis: Redis | None, app_name: str) -> Store:
    """Redis when it is configured (shared by every app process), otherwise this process's memory."""
    if redis is not None:
        return RedisStore(redis, namespace=f"{settings.redis_prefix}:{app_name}:sessions")
    return MemoryStore()


@pass_context
def csrf_field(context: Any) -> Markup:
    """The hidden CSRF input every form carries: ``{{ csrf_field() }}``."""
    return Markup('<input type="hidden" name="_csrf_token" value="{}">').format(escape(csrf_token(context)))


@pass_context
def flash_messages(context: Any) -> list[dict[str, Any]]:
    """Pop the flash messages; pages served without a session (an unrouted 404) have none."""
    request = context.get("request")
    if request is None or "session" not in request.scope:
        return []
    messages: list[dict[str, Any]] = request.session.pop("_messages", [])
    return messages


def build_templates(
    spec: AppSpec, translator: Translator, *, auto_reload: bool = True
) -> TemplateConfig[JinjaTemplateEngine]:
    """The app's Jinja environment. ``auto_reload`` (development) checks every template file's
    modification time each time a page uses it; production templates change only with a deploy,
    which restarts the processes, so production turns it off."""
    environment = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(spec.template_dir),
                *(FileSystemLoader(d) for d in spec.extra_template_dirs),
                FileSystemLoader(CORE_TEMPLATES),
            ]
        ),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=auto_reload,
    )
    install_translations(environment, translator)
    environment.globals.update(
        app_name=spec.name,
        app_title=spec.title,
        nav=spec.nav,
        languages=LANGUAGES,
        current_language=current_language,
        csrf_field=csrf_field,
        flash_messages=flash_messages,
        **spec.template_globals,
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def bind_services(
    app: Litestar,
    name: str,
    settings: Settings,
    *,
    database: Database | None = None,
    redis: Redis | None = None,
) -> AppServices:
    """Give ``app`` what it serves with: the database, Redis, the rate limiter, a session store
    and an empty :meth:`~core.web.state.AppServices.held`.

    :func:`build_app` calls it once. The test suite calls it again to reuse an app it built for an
    earlier test on the next test's database, since building the back office costs about a second
    of CPU; ``settings`` must then equal the build's, apart from ``database_url`` and
    ``storage_dir``, which only these services read.
    """
    database = database or Database.from_url(
        settings.database_url, echo=settings.db_echo, pool_size=settings.db_pool_size
    )
    if redis is None and settings.uses_redis:
        redis = Redis.from_url(settings.redis_url)
    limiter: RateLimiter = (
        RedisRateLimiter(redis, namespace=f"{settings.redis_prefix}:{name}:ratelimit")
        if redis
        else MemoryRateLimiter()
    )
    services = AppServices(name=name, settings=settings, database=database, redis=redis, rate_limiter=limiter)
    app.state[STATE_KEY] = services
    app.stores.register(SESSION_STORE, session_store(settings, redis, name), allow_override=True)
    return services


def build_app(
    spec: AppSpec,
    settings: Settings,
    *,
    database: Database | None = None,
    redis: Redis | None = None,
    debug: bool = False,
) -> Litestar:
    """Assemble the app. Tests pass their own ``database``; otherwise one is made from settings."""
    configure_logging(settings)
    translator = Translator([*spec.locale_dirs, CORE_LOCALES])
    templates = build_templates(spec, translator, auto_reload=not settings.is_production)

    sessions = RotatingSessionConfig(
        key=spec.session_cookie,
        store=SESSION_STORE,
        max_age=settings.session_idle_minutes * 60,
        httponly=True,
        secure=settings.is_production,
        samesite="lax",
        renew_on_access=True,
        exclude=["/healthz", "/metrics", "/static"],
    )
    csrf = CSRFConfig(
        secret=settings.effective_secret_key,
        cookie_name=spec.csrf_cookie,
        cookie_secure=settings.is_production,
        cookie_httponly=True,
        cookie_samesite="lax",
        header_name="x-csrftoken",
    )
    metrics = PrometheusConfig(
        app_name=spec.name, prefix="brokerdesk", group_path=True, exclude=["/metrics", "/static", "/healthz"]
    )
    static_dirs: list[str | Path | os.PathLike[Any]] = [
        d for d in (spec.static_dir, *spec.extra_static_dirs, CORE_STATIC) if d
    ]

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = app_services(app)  # read at start-up: the services bound last
        for hook in spec.on_startup:
            result = hook(services)
            if hasattr(result, "__await__"):
                await result
        try:
            yield
        finally:
            if services.redis is not None:
                await services.redis.aclose()

    app = Litestar(
        route_handlers=[
            *spec.route_handlers,
            healthz,
            switch_language,
            MetricsController,
            create_static_files_router(
                path="/static", directories=static_dirs, name="static", include_in_schema=False
            ),
        ],
        middleware=[
            DefineMiddleware(LanguageMiddleware, default=settings.default_language),
            metrics.middleware,
            sessions.middleware,
            *spec.middleware,
        ],
        guards=list(APP_GUARDS),
        csrf_config=csrf,
        template_config=templates,
        plugins=[FlashPlugin(FlashConfig(template_config=templates))],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title=spec.title,
            version="1",
            description=spec.api_description,
            path="/api/schema",
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        ),
        lifespan=[lifespan],
        before_send=[
            security_headers_hook(
                hsts=settings.is_production,
                form_targets=spec.form_targets(settings) if spec.form_targets else (),
            )
        ],
        request_max_body_size=settings.max_upload_bytes + UPLOAD_ENVELOPE_BYTES,
        debug=debug,
        logging_config=None,  # core.logging configures the root logger once for every process
    )
    document_api_errors(app)
    bind_services(app, spec.name, settings, database=database, redis=redis)
    return app
