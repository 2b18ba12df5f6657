"""Settings read from environment variables and an optional ``.env`` file.

Every field carries the name of its environment variable and a docstring; ``brokerdesk config``
prints them as the table that the README shows. The defaults run the demo: SQLite, no Redis,
in-process workers, everything on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from core.errors import SettingsError

PRODUCTION = "production"
DEMO_SECRET_KEY = "demo-secret-key-not-for-production"  # noqa: S105 - a published demo value
DEMO_PSP_SECRET = "demo-psp-webhook-secret"  # noqa: S105 - a published demo value


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one BrokerDesk process."""

    env: str = field(default="demo", metadata={"env": "BROKERDESK_ENV"})
    """``demo``, ``test`` or ``production``. Production refuses to start on demo defaults."""

    secret_key: str = field(default="", metadata={"env": "BROKERDESK_SECRET_KEY"})
    """Signs sessions, CSRF tokens and links. Required in production; the demo uses a fixed value."""

    database_url: str = field(
        default="sqlite+aiosqlite:///var/brokerdesk.db", metadata={"env": "DATABASE_URL"}
    )
    """SQLAlchemy URL. ``postgresql+asyncpg://…`` in production, ``sqlite+aiosqlite:///…`` for the demo."""

    redis_url: str = field(default="", metadata={"env": "REDIS_URL"})
    """Redis for sessions, rate limits, cache and the Dramatiq broker. Empty: in-memory stores and
    in-process workers. Required in production."""

    redis_prefix: str = field(default="brokerdesk", metadata={"env": "BROKERDESK_REDIS_PREFIX"})
    """Prefix of every Redis key (sessions, rate limits), so several deployments can share a Redis."""

    portal_host: str = field(default="127.0.0.1", metadata={"env": "BROKERDESK_PORTAL_HOST"})
    """Address the client portal listens on."""

    portal_port: int = field(default=8000, metadata={"env": "BROKERDESK_PORTAL_PORT"})
    """Port of the client and IB portal."""

    backoffice_host: str = field(default="127.0.0.1", metadata={"env": "BROKERDESK_BACKOFFICE_HOST"})
    """Address the back office listens on. Never expose it next to the portal."""

    backoffice_port: int = field(default=8001, metadata={"env": "BROKERDESK_BACKOFFICE_PORT"})
    """Port of the staff back office."""

    portal_url: str = field(default="", metadata={"env": "BROKERDESK_PORTAL_URL"})
    """Public base URL of the portal, used in mailed links. Empty: built from host and port."""

    backoffice_url: str = field(default="", metadata={"env": "BROKERDESK_BACKOFFICE_URL"})
    """Public base URL of the back office. Empty: built from host and port."""

    default_language: str = field(default="en", metadata={"env": "BROKERDESK_DEFAULT_LANGUAGE"})
    """Language used when the visitor has chosen none: ``en`` or ``zh_Hans``."""

    log_json: bool | None = field(default=None, metadata={"env": "BROKERDESK_LOG_JSON"})
    """Structured JSON logs. Empty: on in production, readable lines otherwise."""

    log_level: str = field(default="INFO", metadata={"env": "BROKERDESK_LOG_LEVEL"})
    """Python logging level name."""

    db_echo: bool = field(default=False, metadata={"env": "BROKERDESK_DB_ECHO"})
    """Log every SQL statement (development only)."""

    db_pool_size: int = field(default=20, metadata={"env": "BROKERDESK_DB_POOL_SIZE"})
    """PostgreSQL connections per process, for each of its two pools: the main one, and the one
    ledger posting uses (no pre-ping), which opens connections only when something posts. A pool
    keeps the connections it opened and never opens more: a request that finds all busy waits."""

    storage_dir: str = field(default="var/files", metadata={"env": "BROKERDESK_STORAGE_DIR"})
    """Folder for uploaded files (KYC documents, proofs). Files are encrypted at rest."""

    storage_key: str = field(default="", metadata={"env": "BROKERDESK_STORAGE_KEY"})
    """Base64 of 32 random bytes that encrypt stored files. Empty: derived from the secret key.
    Keep it apart from the secret key in production so a rotated secret keeps files readable."""

    max_upload_bytes: int = field(default=10 * 1024 * 1024, metadata={"env": "BROKERDESK_MAX_UPLOAD_BYTES"})
    """Largest accepted upload, in bytes."""

    kyc_sandbox_url: str = field(default="", metadata={"env": "BROKERDESK_KYC_SANDBOX_URL"})
    """Base URL of the loopback KYC sandbox vendor (``brokerdesk demo`` starts one). Empty: clients
    are verified by compliance staff only (the manual provider) and the vendor button is hidden."""

    kyc_sandbox_secret: str = field(default="", metadata={"env": "BROKERDESK_KYC_SANDBOX_SECRET"})
    """Shared secret that signs the KYC sandbox's webhooks (HMAC-SHA256). Never logged."""

    metrics_token: str = field(default="", metadata={"env": "BROKERDESK_METRICS_TOKEN"})
    """Bearer token Prometheus must send to read ``/metrics``. Empty: open in the demo, and
    ``/metrics`` switched off (404) in production."""

    smtp_host: str = field(default="", metadata={"env": "BROKERDESK_SMTP_HOST"})
    """SMTP server for outgoing mail. Empty: mail is kept in the dev mailbox of the back office."""

    smtp_port: int = field(default=587, metadata={"env": "BROKERDESK_SMTP_PORT"})
    """SMTP port (587 for submission with STARTTLS, 465 for implicit TLS, 25 for a local relay)."""

    smtp_username: str = field(default="", metadata={"env": "BROKERDESK_SMTP_USERNAME"})
    """SMTP login. Empty: no authentication (a local relay)."""

    smtp_password: str = field(default="", metadata={"env": "BROKERDESK_SMTP_PASSWORD"})
    """SMTP password. Never logged."""

    smtp_starttls: bool = field(default=True, metadata={"env": "BROKERDESK_SMTP_STARTTLS"})
    """Upgrade the SMTP connection with STARTTLS before sending (port 587)."""

    smtp_ssl: bool = field(default=False, metadata={"env": "BROKERDESK_SMTP_SSL"})
    """Use implicit TLS from the first byte (port 465)."""

    smtp_timeout_seconds: int = field(default=20, metadata={"env": "BROKERDESK_SMTP_TIMEOUT_SECONDS"})
    """How long one SMTP conversation may take before the send is retried later."""

    mail_from: str = field(
        default="BrokerDesk <no-reply@brokerdesk.invalid>", metadata={"env": "BROKERDESK_MAIL_FROM"}
    )
    """The From address of every mail BrokerDesk sends."""

    support_reply_domain: str = field(default="", metadata={"env": "BROKERDESK_SUPPORT_REPLY_DOMAIN"})
    """Domain of support tickets' Reply-To addresses (``support+<ticket>.<token>@<domain>``), whose
    mail your MX relays to the inbound support server. Empty: the domain of ``BROKERDESK_MAIL_FROM``."""

    support_inbound_host: str = field(
        default="127.0.0.1", metadata={"env": "BROKERDESK_SUPPORT_INBOUND_HOST"}
    )
    """Address the inbound support mail server (``brokerdesk support-inbound``) listens on."""

    support_inbound_port: int = field(default=8025, metadata={"env": "BROKERDESK_SUPPORT_INBOUND_PORT"})
    """Port of the inbound support mail server, where clients' mailed replies thread into tickets."""

    session_idle_minutes: int = field(default=30, metadata={"env": "BROKERDESK_SESSION_IDLE_MINUTES"})
    """A signed-in session ends after this long without a request."""

    session_absolute_hours: int = field(default=12, metadata={"env": "BROKERDESK_SESSION_ABSOLUTE_HOURS"})
    """A signed-in session ends this long after sign-in, however active it is."""

    password_min_length: int = field(default=10, metadata={"env": "BROKERDESK_PASSWORD_MIN_LENGTH"})
    """Shortest password accepted for clients and staff."""

    argon2_time_cost: int = field(default=3, metadata={"env": "BROKERDESK_ARGON2_TIME_COST"})
    """argon2id passes over memory. Lower only in tests; production keeps the strong default."""

    argon2_memory_kib: int = field(default=65536, metadata={"env": "BROKERDESK_ARGON2_MEMORY_KIB"})
    """argon2id memory per hash in KiB (64 MiB by default, as RFC 9106 recommends)."""

    argon2_parallelism: int = field(default=4, metadata={"env": "BROKERDESK_ARGON2_PARALLELISM"})
    """argon2id lanes per hash."""

    login_max_failures: int = field(default=5, metadata={"env": "BROKERDESK_LOGIN_MAX_FAILURES"})
    """Failed sign-ins (or 2FA codes) for one account before it is locked for a while."""

    lockout_minutes: int = field(default=15, metadata={"env": "BROKERDESK_LOCKOUT_MINUTES"})
    """How long an account stays locked after too many failures; also the counting window."""

    ip_attempts_per_window: int = field(default=30, metadata={"env": "BROKERDESK_IP_ATTEMPTS_PER_WINDOW"})
    """Sign-in, reset, registration and 2FA attempts one IP address may make per lockout window."""

    email_token_hours: int = field(default=48, metadata={"env": "BROKERDESK_EMAIL_TOKEN_HOURS"})
    """How long an email verification link stays valid."""

    reset_token_minutes: int = field(default=60, metadata={"env": "BROKERDESK_RESET_TOKEN_MINUTES"})
    """How long a password reset link stays valid."""

    psp_sandbox_url: str = field(
        default="http://127.0.0.1:8802", metadata={"env": "BROKERDESK_PSP_SANDBOX_URL"}
    )
    """Base URL of the PSP sandbox (the demo payment provider), served on loopback by the demo."""

    psp_webhook_secret: str = field(default="", metadata={"env": "BROKERDESK_PSP_WEBHOOK_SECRET"})
    """HMAC secret shared with the PSP for webhook signatures. Empty: a published demo value."""

    cashier_currencies: str = field(default="USD,EUR", metadata={"env": "BROKERDESK_CASHIER_CURRENCIES"})
    """Comma-separated currencies clients may hold wallets in, deposit and withdraw."""

    bank_beneficiary: str = field(
        default="BrokerDesk Demo Ltd client account", metadata={"env": "BROKERDESK_BANK_BENEFICIARY"}
    )
    """Beneficiary name shown to clients who deposit by bank wire."""

    bank_name: str = field(default="Demo Bank plc", metadata={"env": "BROKERDESK_BANK_NAME"})
    """Bank name shown to clients who deposit by bank wire."""

    bank_iban: str = field(default="GB82WEST12345698765432", metadata={"env": "BROKERDESK_BANK_IBAN"})
    """IBAN of the client-money account shown to clients who deposit by bank wire."""

    bank_bic: str = field(default="WESTGB2L", metadata={"env": "BROKERDESK_BANK_BIC"})
    """SWIFT/BIC of the client-money account shown to clients who deposit by bank wire."""

    withdrawal_four_eyes_minor: int = field(
        default=100_000, metadata={"env": "BROKERDESK_WITHDRAWAL_FOUR_EYES_MINOR"}
    )
    """Withdrawals of at least this many minor units need two different approvers."""

    withdrawal_max_minor: int = field(default=5_000_000, metadata={"env": "BROKERDESK_WITHDRAWAL_MAX_MINOR"})
    """Largest single withdrawal, in minor units of its currency."""

    withdrawal_daily_max_minor: int = field(
        default=10_000_000, metadata={"env": "BROKERDESK_WITHDRAWAL_DAILY_MAX_MINOR"}
    )
    """Most a client may request to withdraw per currency per UTC day, in minor units."""

    withdrawal_deadline_hours: int = field(
        default=48, metadata={"env": "BROKERDESK_WITHDRAWAL_DEADLINE_HOURS"}
    )
    """Withdrawal requests still open this long after they were made are flagged as overdue."""

    rates_file: str = field(default="", metadata={"env": "BROKERDESK_RATES_FILE"})
    """JSON file of exchange rates loaded by the scheduled rates job. Empty: no automatic loading."""

    @property
    def is_production(self) -> bool:
        return self.env == PRODUCTION

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def effective_secret_key(self) -> str:
        return self.secret_key or DEMO_SECRET_KEY

    @property
    def effective_psp_webhook_secret(self) -> str:
        return self.psp_webhook_secret or DEMO_PSP_SECRET

    @property
    def cashier_currency_list(self) -> tuple[str, ...]:
        return tuple(code.strip().upper() for code in self.cashier_currencies.split(",") if code.strip())

    @property
    def json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json

    @property
    def public_portal_url(self) -> str:
        return self.portal_url or f"http://{self.portal_host}:{self.portal_port}"

    @property
    def public_backoffice_url(self) -> str:
        return self.backoffice_url or f"http://{self.backoffice_host}:{self.backoffice_port}"

    def check(self) -> Settings:
        """Refuse a production start on demo defaults, naming every missing variable."""
        if not self.is_production:
            return self
        missing = []
        if not self.secret_key:
            missing.append("BROKERDESK_SECRET_KEY (a long random secret)")
        if not self.database_url.startswith("postgresql"):
            missing.append("DATABASE_URL (a postgresql+asyncpg:// URL)")
        if not self.redis_url:
            missing.append("REDIS_URL (a redis:// URL)")
        if missing:
            raise SettingsError("production mode needs: " + "; ".join(missing))
        return self


def _parse(raw: str, current: object, name: str) -> object:
    if isinstance(current, bool) or current is None:
        value = raw.strip().lower()
        if value == "" and current is None:
            return None
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name} must be true or false, not {raw!r}")
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    return raw


def read_dotenv(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines; blank lines and ``#`` comments are skipped."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def load_settings(environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
    """Build settings from a ``.env`` file overlaid by the process environment, then check them."""
    source: dict[str, str] = read_dotenv(dotenv) if dotenv is not None else {}
    source.update(os.environ if environ is None else environ)
    defaults = Settings()
    values: dict[str, object] = {}
    for f in fields(Settings):
        name = f.metadata["env"]
        if name in source:
            values[f.name] = _parse(source[name], getattr(defaults, f.name), name)
    return Settings(**values).check()  # type: ignore[arg-type]


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting, read from the field docstrings."""
    import ast
    import inspect
    import itertools

    tree = ast.parse(inspect.getsource(Settings))
    docs: dict[str, str] = {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, following in itertools.pairwise(body):
        is_field = isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        is_docstring = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
        if is_field and is_docstring:
            docs[node.target.id] = " ".join(str(following.value.value).split())
    defaults = Settings()
    rows = []
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        rows.append((f.metadata["env"], "" if default in (None, "") else str(default), docs.get(f.name, "")))
    return rows
