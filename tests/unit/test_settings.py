"""Settings come from the environment once, with one clear line for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.eventstore import eventstore_env, postgres_env, redact
from infra.settings import Settings, SettingsError, load_settings


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.database_url is None
    assert settings.events_sqlite_path == Path("var/bitstride.sqlite3")
    assert settings.base_url == "http://127.0.0.1:8000"


def test_values_are_parsed_and_typed() -> None:
    settings = load_settings({"BITSTRIDE_PORT": "9000", "BITSTRIDE_MODE": "gateway",
                              "READ_YOUR_WRITES_TIMEOUT_SECONDS": "0.5", "LOG_FORMAT": "json",
                              "HTTP_THREADS": "8"})
    assert (settings.port, settings.mode, settings.log_format) == (9000, "gateway", "json")
    assert settings.http_threads == 8
    assert settings.read_your_writes_timeout_seconds == 0.5


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BITSTRIDE_PORT", "eighty", "BITSTRIDE_PORT must be an integer, got 'eighty'"),
    ("READY_MAX_LAG", "1.5", "READY_MAX_LAG must be an integer"),
    ("READ_YOUR_WRITES_TIMEOUT_SECONDS", "soon", "must be a number"),
    ("BITSTRIDE_MODE", "half", "BITSTRIDE_MODE must be one of full, gateway"),
    ("HTTP_THREADS", "0", "HTTP_THREADS must be greater than 0"),
])
def test_a_bad_value_names_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({name: value})


def test_postgres_env_maps_the_url_and_never_enables_db_functions() -> None:
    env = postgres_env("postgresql://bob:s3cret@db.example:6543/bitstride", "es")
    assert env["POSTGRES_HOST"] == "db.example"
    assert env["POSTGRES_PORT"] == "6543"
    assert env["POSTGRES_DBNAME"] == "bitstride"
    assert env["POSTGRES_SCHEMA"] == "es"
    assert env["POSTGRES_LOCK_TIMEOUT"] != "0"
    assert "POSTGRES_ENABLE_DB_FUNCTIONS" not in env


def test_unsupported_urls_fail_without_leaking_the_password(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        eventstore_env("mysql://bob:s3cret@db/x", tmp_path / "es.sqlite3", "es")
    assert "s3cret" not in str(raised.value)
    assert redact("postgresql://bob:s3cret@db/x") == "postgresql://bob:***@db/x"


def test_sqlite_is_the_default_store(tmp_path: Path) -> None:
    env = eventstore_env(None, tmp_path / "sub" / "es.sqlite3", "ignored")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert (tmp_path / "sub").is_dir()
