"""Typed settings, read once from the environment; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

RuntimeMode = Literal["full", "gateway"]
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line an operator can act on."""


@dataclass(frozen=True)
class Settings:
    """Everything Bitstride can be configured with. Defaults are the embedded ones of `make run`."""

    host: str = "127.0.0.1"
    port: int = 8000
    auth_port: int = 8001
    mode: RuntimeMode = "full"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    # Threads per HTTP server process for synchronous handlers: a command mostly waits (group
    # commit, read-your-writes), so the loop's default pool (cores + 4) queued 32 clients.
    http_threads: int = 32
    data_dir: Path = Path("var")
    database_url: str | None = None
    database_schema: str = "bitstride"
    read_model_schema: str = "bitstride_read"
    auth_database_url: str | None = None
    auth_database_schema: str = "bitstride_auth"
    auth_service_url: str | None = None
    auth_internal_token: str | None = None
    redis_url: str | None = None
    auth_issuer: str = "bitstride-auth"
    auth_audience: str = "bitstride-api"
    access_token_ttl_seconds: int = 600
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    signing_key_file: Path | None = None
    max_body_bytes: int = 1024 * 1024
    read_your_writes_timeout_seconds: float = 5.0
    ready_max_lag: int = 1000
    public_url: str | None = None
    # -- auth service features (issue 3) --
    smtp_url: str | None = None
    mail_from: str = "Bitstride <no-reply@bitstride.local>"
    require_verified_email: bool = False
    api_key_secret: str | None = None
    api_key_cache_seconds: float = 30.0
    oauth_providers: str | None = None
    login_redirect_urls: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    next_public_auth_url: str | None = None
    next_public_api_url: str | None = None
    mfa_encryption_key: str | None = None
    auth_trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    # -- datasets (issue 4) --
    object_store_url: str | None = None
    max_upload_bytes: int = 512 * 1024 * 1024
    # -- models (issue 4) --
    model_catalog_file: Path | None = None  # None: the catalog shipped in infra/catalog/
    # -- training (issue 5) --
    training_capacity: int = 2  # jobs running at once, across all organizations
    training_org_concurrency: int = 2  # jobs running at once in one organization
    # Silence after which a running job's executor counts as lost (`executor_lost`).
    training_heartbeat_seconds: float = 60.0
    # "local": the reference trainer, one subprocess per job; "dry-run": an executor that
    # trains nothing (it counts examples and tokens); "none": no scheduler runs.
    training_executor: Literal["none", "dry-run", "local"] = "local"
    training_work_dir: Path | None = None  # None: <data dir>/training
    # -- serving (issue 6) --
    deployment_controller: bool = True  # the worker reconciles deployments with replicas
    serving_work_dir: Path | None = None  # None: <data dir>/serving
    replica_ready_timeout_seconds: float = 60.0
    # -- gateway metering and rate limits (issue 6) --
    gateway_usage_flush_seconds: float = 0.1  # buffered usage is written at least this often
    gateway_usage_batch: int = 500  # ... or as soon as this many records wait
    gateway_usage_buffer_max: int = 100_000  # records buffered past it are dropped (counted)
    gateway_key_rpm: int = 0  # requests per minute per API key; 0 = unlimited
    gateway_key_tpm: int = 0  # tokens per minute per API key
    gateway_org_rpm: int = 0  # requests per minute per organization
    gateway_org_tpm: int = 0  # tokens per minute per organization
    # Redis unreachable: "allow" serves unlimited (logged, counted), "deny" answers limited.
    gateway_rate_limit_on_redis_error: Literal["allow", "deny"] = "allow"
    # -- gateway proxying (issue 6) --
    gateway_connect_timeout_seconds: float = 5.0  # connecting to a replica: 502 past it
    gateway_first_byte_timeout_seconds: float = 60.0  # until the replica answers: 504 past it
    gateway_chunk_timeout_seconds: float = 60.0  # silence mid-stream that ends the stream
    gateway_total_timeout_seconds: float = 600.0  # a whole request, streamed or not
    gateway_keepalive_seconds: float = 15.0  # `: keep-alive` after this much stream silence
    gateway_pool_size: int = 100  # keep-alive connections to replicas, all replicas together
    # -- billing (issue 7) --
    price_book_file: Path | None = None  # None: the price book shipped in infra/billing/
    # The worker closes a period this long after it ended (late usage gets in first).
    billing_close_grace_seconds: int = 3600
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def training_runs_dir(self) -> Path:
        return self.training_work_dir or self.data_dir / "training"

    @property
    def serving_replicas_dir(self) -> Path:
        return self.serving_work_dir or self.data_dir / "serving"

    @property
    def events_sqlite_path(self) -> Path:
        return self.data_dir / "bitstride.sqlite3"

    @property
    def auth_sqlite_path(self) -> Path:
        return self.data_dir / "auth.sqlite3"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.data_dir / "auth" / "signing-key.pem"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (the CLI's --host/--port, tests' temp dirs)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N]) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise SettingsError(f"{name} must be {noun}, got {raw!r}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float)


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or None


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment (or the given mapping) and validate them."""
    env = os.environ if env is None else env
    key_file = _optional(env, "AUTH_SIGNING_KEY_FILE")
    return Settings(
        host=env.get("BITSTRIDE_HOST") or "127.0.0.1",
        port=_int(env, "BITSTRIDE_PORT", 8000),
        auth_port=_int(env, "AUTH_PORT", 8001),
        mode=_choice(env, "BITSTRIDE_MODE", "full", ("full", "gateway")),  # type: ignore[arg-type]
        log_format=_choice(env, "LOG_FORMAT", "console", ("console", "json")),  # type: ignore[arg-type]
        log_level=_choice(env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        http_threads=_positive(_int(env, "HTTP_THREADS", 32), "HTTP_THREADS"),
        data_dir=Path(env.get("BITSTRIDE_DATA_DIR") or "var"),
        database_url=_optional(env, "DATABASE_URL"),
        database_schema=env.get("DATABASE_SCHEMA") or "bitstride",
        read_model_schema=env.get("READ_MODEL_SCHEMA") or "bitstride_read",
        auth_database_url=_optional(env, "AUTH_DATABASE_URL"),
        auth_database_schema=env.get("AUTH_DATABASE_SCHEMA") or "bitstride_auth",
        auth_service_url=_optional(env, "AUTH_SERVICE_URL"),
        auth_internal_token=_optional(env, "AUTH_INTERNAL_TOKEN"),
        redis_url=_optional(env, "REDIS_URL"),
        auth_issuer=env.get("AUTH_ISSUER") or "bitstride-auth",
        auth_audience=env.get("AUTH_AUDIENCE") or "bitstride-api",
        access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 600),
        refresh_token_ttl_seconds=_int(env, "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600),
        signing_key_file=Path(key_file) if key_file else None,
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024),
        read_your_writes_timeout_seconds=_float(env, "READ_YOUR_WRITES_TIMEOUT_SECONDS", 5.0),
        ready_max_lag=_int(env, "READY_MAX_LAG", 1000),
        public_url=_optional(env, "PUBLIC_URL"),
        object_store_url=_optional(env, "OBJECT_STORE_URL"),
        max_upload_bytes=_int(env, "DATASET_MAX_BYTES", 512 * 1024 * 1024),
        smtp_url=_optional(env, "SMTP_URL"),
        mail_from=env.get("MAIL_FROM") or "Bitstride <no-reply@bitstride.local>",
        require_verified_email=_bool(env, "AUTH_REQUIRE_VERIFIED_EMAIL", default=False),
        api_key_secret=_optional(env, "API_KEY_SECRET"),
        api_key_cache_seconds=_float(env, "API_KEY_CACHE_SECONDS", 30.0),
        oauth_providers=_optional(env, "OAUTH_PROVIDERS"),
        login_redirect_urls=_list(env, "LOGIN_REDIRECT_URLS"),
        cors_origins=_list(env, "CORS_ORIGINS"),
        next_public_auth_url=_optional(env, "NEXT_PUBLIC_AUTH_URL"),
        next_public_api_url=_optional(env, "NEXT_PUBLIC_API_URL"),
        mfa_encryption_key=_optional(env, "MFA_ENCRYPTION_KEY"),
        auth_trusted_proxies=_list(env, "AUTH_TRUSTED_PROXIES") or ("127.0.0.1", "::1"),
        # -- models (issue 4) --
        model_catalog_file=_path(env, "MODEL_CATALOG_FILE"),
        # -- training (issue 5) --
        training_capacity=_int(env, "TRAINING_CAPACITY", 2),
        training_org_concurrency=_int(env, "TRAINING_ORG_CONCURRENCY", 2),
        training_heartbeat_seconds=_float(env, "TRAINING_HEARTBEAT_SECONDS", 60.0),
        training_executor=_choice(env, "TRAINING_EXECUTOR", "local",  # type: ignore[arg-type]
                                  ("none", "dry-run", "local")),
        training_work_dir=_path(env, "TRAINING_WORK_DIR"),
        # -- serving (issue 6) --
        deployment_controller=_choice(env, "DEPLOYMENT_CONTROLLER", "on", ("on", "off")) == "on",
        serving_work_dir=_path(env, "SERVING_WORK_DIR"),
        replica_ready_timeout_seconds=_float(env, "REPLICA_READY_TIMEOUT_SECONDS", 60.0),
        # -- gateway metering and rate limits (issue 6) --
        gateway_usage_flush_seconds=_positive(
            _float(env, "GATEWAY_USAGE_FLUSH_SECONDS", 0.1), "GATEWAY_USAGE_FLUSH_SECONDS"),
        gateway_usage_batch=_positive(_int(env, "GATEWAY_USAGE_BATCH", 500),
                                      "GATEWAY_USAGE_BATCH"),
        gateway_usage_buffer_max=_positive(_int(env, "GATEWAY_USAGE_BUFFER_MAX", 100_000),
                                           "GATEWAY_USAGE_BUFFER_MAX"),
        gateway_key_rpm=_not_negative(_int(env, "GATEWAY_KEY_RPM", 0), "GATEWAY_KEY_RPM"),
        gateway_key_tpm=_not_negative(_int(env, "GATEWAY_KEY_TPM", 0), "GATEWAY_KEY_TPM"),
        gateway_org_rpm=_not_negative(_int(env, "GATEWAY_ORG_RPM", 0), "GATEWAY_ORG_RPM"),
        gateway_org_tpm=_not_negative(_int(env, "GATEWAY_ORG_TPM", 0), "GATEWAY_ORG_TPM"),
        gateway_rate_limit_on_redis_error=_choice(  # type: ignore[arg-type]
            env, "GATEWAY_RATE_LIMIT_ON_REDIS_ERROR", "allow", ("allow", "deny")),
        # -- gateway proxying (issue 6) --
        gateway_connect_timeout_seconds=_positive(
            _float(env, "GATEWAY_CONNECT_TIMEOUT_SECONDS", 5.0), "GATEWAY_CONNECT_TIMEOUT_SECONDS"),
        gateway_first_byte_timeout_seconds=_positive(
            _float(env, "GATEWAY_FIRST_BYTE_TIMEOUT_SECONDS", 60.0),
            "GATEWAY_FIRST_BYTE_TIMEOUT_SECONDS"),
        gateway_chunk_timeout_seconds=_positive(
            _float(env, "GATEWAY_CHUNK_TIMEOUT_SECONDS", 60.0), "GATEWAY_CHUNK_TIMEOUT_SECONDS"),
        gateway_total_timeout_seconds=_positive(
            _float(env, "GATEWAY_TOTAL_TIMEOUT_SECONDS", 600.0), "GATEWAY_TOTAL_TIMEOUT_SECONDS"),
        gateway_keepalive_seconds=_positive(
            _float(env, "GATEWAY_KEEPALIVE_SECONDS", 15.0), "GATEWAY_KEEPALIVE_SECONDS"),
        gateway_pool_size=_positive(_int(env, "GATEWAY_POOL_SIZE", 100), "GATEWAY_POOL_SIZE"),
        # -- billing (issue 7) --
        price_book_file=_path(env, "PRICE_BOOK_FILE"),
        billing_close_grace_seconds=_seconds(env, "BILLING_CLOSE_GRACE_SECONDS", 3600),
    )


def _positive(value: N, name: str) -> N:
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, got {value!r}")
    return value


def _not_negative(value: N, name: str) -> N:
    if value < 0:
        raise SettingsError(f"{name} must be 0 (unlimited) or more, got {value!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise SettingsError(f"{name} must be 0 or more seconds, got {value!r}")
    return value


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = _optional(env, name)
    return Path(raw) if raw else None
