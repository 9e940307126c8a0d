"""Shared fixtures: real Postgres and Redis (skipped with a reason locally, failing in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql

from infra.settings import Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL",
                                   "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI") == "true"


def unavailable(what: str, error: Exception) -> None:
    """Outside CI a missing server skips visibly; in CI it fails the run."""
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: required)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        with psycopg.connect(TEST_DATABASE_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        unavailable(f"PostgreSQL at {TEST_DATABASE_URL}", error)
    return TEST_DATABASE_URL


@pytest.fixture
def pg_schemas(postgres_url: str) -> Iterator[dict[str, str]]:
    """Fresh schemas for one test (events, read models, auth), dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    schemas = {"database_schema": f"{prefix}_es", "read_model_schema": f"{prefix}_rm",
               "auth_database_schema": f"{prefix}_auth"}
    yield schemas
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for schema in schemas.values():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as error:
        unavailable(f"Redis at {TEST_REDIS_URL}", error)
    return TEST_REDIS_URL


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Embedded defaults in a temporary directory: what `make run` uses, isolated.

    No training scheduler: job tests play the worker by hand (tests/support/training.py);
    tests of the scheduler turn it on with `training_executor="dry-run"`."""
    return Settings(data_dir=tmp_path / "var", read_your_writes_timeout_seconds=5.0,
                    training_executor="none", deployment_controller=False)


@pytest.fixture
def postgres_settings(postgres_url: str, pg_schemas: dict[str, str], tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=postgres_url,
                    auth_database_url=postgres_url, training_executor="none",
                    deployment_controller=False,
                    **pg_schemas)  # type: ignore[arg-type]
