"""Settings: environment parsing, ``.env`` files and the production refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import SettingsError
from core.settings import DEMO_SECRET_KEY, Settings, load_settings, settings_table

PRODUCTION_READY = {
    "BROKERDESK_ENV": "production",
    "BROKERDESK_SECRET_KEY": "a-long-random-secret-for-tests-only",
    "DATABASE_URL": "postgresql+asyncpg://broker@127.0.0.1/brokerdesk",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_defaults_serve_the_demo() -> None:
    settings = load_settings({}, dotenv=None)
    assert settings.env == "demo"
    assert settings.is_sqlite
    assert not settings.uses_redis
    assert settings.effective_secret_key == DEMO_SECRET_KEY
    assert settings.portal_port != settings.backoffice_port
    assert settings.json_logs is False


def test_environment_values_are_parsed() -> None:
    settings = load_settings({"BROKERDESK_PORTAL_PORT": "9100", "BROKERDESK_LOG_JSON": "yes"}, dotenv=None)
    assert settings.portal_port == 9100
    assert settings.json_logs is True


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="BROKERDESK_PORTAL_PORT must be a whole number"):
        load_settings({"BROKERDESK_PORTAL_PORT": "eighty"}, dotenv=None)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nBROKERDESK_PORTAL_PORT=9200\nexport REDIS_URL='redis://127.0.0.1:6379/3'\n")
    settings = load_settings({"BROKERDESK_PORTAL_PORT": "9300"}, dotenv=dotenv)
    assert settings.portal_port == 9300
    assert settings.redis_url == "redis://127.0.0.1:6379/3"


def test_production_with_everything_starts() -> None:
    settings = load_settings(PRODUCTION_READY, dotenv=None)
    assert settings.is_production
    assert settings.json_logs is True


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("BROKERDESK_SECRET_KEY", "BROKERDESK_SECRET_KEY"),
        ("DATABASE_URL", "DATABASE_URL"),
        ("REDIS_URL", "REDIS_URL"),
    ],
)
def test_production_refuses_to_start_without(missing: str, named: str) -> None:
    environment = {key: value for key, value in PRODUCTION_READY.items() if key != missing}
    with pytest.raises(SettingsError, match=named) as error:
        load_settings(environment, dotenv=None)
    others = {"BROKERDESK_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} - {named}
    assert not any(other in str(error.value) for other in others)


def test_production_refuses_sqlite() -> None:
    environment = {**PRODUCTION_READY, "DATABASE_URL": "sqlite+aiosqlite:///var/x.db"}
    with pytest.raises(SettingsError, match="postgresql"):
        load_settings(environment, dotenv=None)


def test_every_setting_is_documented() -> None:
    rows = settings_table()
    assert len(rows) == len(Settings.__dataclass_fields__)
    assert all(doc for _name, _default, doc in rows)
