"""The one error envelope, used for every error of every app (DESIGN §5)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import redis
import structlog
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    InternalServerException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from application.datasets.ports import StorageError, TooLargeError
from domain.shared.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    InvalidStateTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
    VersionMismatchError,
)
from interfaces.http.request_id import request_id_of
from projections.unavailable import UNAVAILABLE_ERRORS, database_unavailable

log = structlog.get_logger("bitstride.http")

CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left first
# Litestar's detail of the 500 it raises when the client leaves while the body streams in.
DISCONNECTED = "client disconnected prematurely"


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    """`param` has no default so that it is always present, null when no field is at fault."""

    code: str
    message: str
    type: str
    param: str | None
    request_id: str | None = None
    current_state: str | None = None
    allowed_actions: list[str] | None = None


class ErrorEnvelope(msgspec.Struct):
    """`{"error": {...}}`, shaped so OpenAI client libraries raise typed errors."""

    error: ErrorDetail


class ApiError(Exception):
    """An error raised by the HTTP layer itself (auth, preconditions, limits)."""

    def __init__(self, status: int, code: str, message: str, *, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param
        self.headers = headers or {}


_TYPE_BY_STATUS = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}

_STATUS_BY_DOMAIN_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (NotFoundError, 404),
    (InvalidStateTransitionError, 409),
    (ConflictError, 409),
    (VersionMismatchError, 412),
    (PermissionDeniedError, 403),
    (ValidationFailedError, 400),
    (AuthenticationError, 401),
)


def error_type(status: int) -> str:
    if status >= 500:
        return _TYPE_BY_STATUS.get(status, "server_error")
    return _TYPE_BY_STATUS.get(status, "invalid_request_error")


def envelope(request: Request[Any, Any, Any], status: int, code: str, message: str, *,
             param: str | None = None, headers: dict[str, str] | None = None,
             **extra: Any) -> Response[ErrorEnvelope]:
    detail = ErrorDetail(code=code, message=message, type=error_type(status), param=param,
                         request_id=request_id_of(request.scope), **extra)
    return Response(ErrorEnvelope(error=detail), status_code=status, headers=headers)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = next((s for cls, s in _STATUS_BY_DOMAIN_ERROR if isinstance(exc, cls)), 400)
    extra: dict[str, Any] = {}
    if isinstance(exc, InvalidStateTransitionError):
        extra = {"current_state": exc.state, "allowed_actions": list(exc.allowed_actions)}
    return envelope(request, status, exc.code, exc.message, param=exc.param, **extra)


def api_error_handler(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return envelope(request, exc.status, exc.code, exc.message, param=exc.param,
                    headers=exc.headers)


_FIELD_IN_MESSAGE = re.compile(r"field `([^`]+)`")
_PARAMETER_IN_MESSAGE = re.compile(r"(query|header|path|cookie) parameter '([^']+)'")


def _validation_param(exc: ValidationException) -> tuple[str | None, str]:
    """Name the first offending field the way OpenAI does: a dotted path, or null."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    missing = _PARAMETER_IN_MESSAGE.search(str(exc.detail)) if not first else None
    if missing is not None:  # Litestar names a missing parameter only in its message
        source, name = missing.groups()
        return name, f"Missing required {source} parameter '{name}'."
    message = str(first.get("message") or exc.detail)
    key = str(first.get("key") or "").replace("[...]", "") or None
    named = _FIELD_IN_MESSAGE.search(message)
    if key == "data":  # the body as a whole: the field, if any, is named in the message
        key = named.group(1) if named else None
    if key is None:
        return None, f"Invalid request body: {message}."
    source = getattr(first.get("source"), "value", first.get("source"))  # a ParamType, or None
    if source not in (None, "body"):
        return key, f"Invalid {source} parameter '{key}': {message}."
    return key, f"Invalid value for '{key}': {message}."


def _route_message(request: Request[Any, Any, Any], exc: HTTPException) -> str:
    if isinstance(exc, MethodNotAllowedException):
        return f"Method {request.method} is not allowed on {request.url.path}."
    return f"No route for {request.method} {request.url.path}."


# Framework exceptions without a body-specific message: (class, status, code, default message).
_HTTP_ERRORS: tuple[tuple[type[HTTPException], str, str | None], ...] = (
    (NotFoundException, "not_found", None),
    (MethodNotAllowedException, "method_not_allowed", None),
    (NotAuthorizedException, "unauthorized", "Authentication required."),
    (PermissionDeniedException, "permission_denied", "Not allowed."),
)
_CODE_BY_STATUS = {400: "invalid_request", 413: "request_too_large", 429: "rate_limit_exceeded",
                   503: "service_unavailable"}


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500 and status != 503:  # a framework fault: its detail is not for clients
        return internal_error_handler(request, exc)
    if isinstance(exc, ValidationException):
        param, message = _validation_param(exc)
        return envelope(request, 400, "invalid_request", message, param=param)
    if isinstance(exc, ClientException) and status == 400:  # the body failed to decode
        return envelope(request, 400, "invalid_json",
                        f"The request body is not valid JSON: {exc.detail}.")
    for cls, code, default in _HTTP_ERRORS:
        if isinstance(exc, cls):
            message = (exc.detail or default) if default else _route_message(request, exc)
            return envelope(request, status, code, message, headers=exc.headers)
    if status == 413:
        return envelope(request, 413, "request_too_large", "The request body is too large.")
    return envelope(request, status, _CODE_BY_STATUS.get(status, "http_error"),
                    exc.detail or "Request failed.", headers=exc.headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, InternalServerException) and exc.detail == DISCONNECTED:
        return client_disconnected(request)
    log.exception("unhandled_error", path=request.url.path, method=request.method,
                  error_class=type(exc).__name__)
    rid = request_id_of(request.scope)
    return envelope(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal_error",
                    f"The server failed to handle this request (request id {rid}).")


def client_disconnected(request: Request[Any, Any, Any]) -> Response[Any]:
    """The client left before its request body arrived whole. Nobody reads this answer: the
    status is for the metrics and the log line, which is not the traceback of a server fault
    (every impatient client, and every load generator stopping mid-round, caused one)."""
    log.info("client_disconnected", path=request.url.path, method=request.method)
    return envelope(request, CLIENT_CLOSED_REQUEST, "client_closed_request",
                    "The client closed the connection before its request arrived.")


def storage_error_handler(request: Request[Any, Any, Any], exc: StorageError) -> Response[Any]:
    if isinstance(exc, TooLargeError):
        return envelope(request, 413, "request_too_large", str(exc))
    return internal_error_handler(request, exc)


def database_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database is unreachable (restarting, failing over): retry, not a server bug."""
    if not database_unavailable(exc):
        return internal_error_handler(request, exc)
    log.warning("database_unavailable", path=request.url.path, error_class=type(exc).__name__)
    return envelope(request, 503, "service_unavailable",
                    "The database is unavailable; retry shortly.", headers={"Retry-After": "1"})


def redis_error_handler(request: Request[Any, Any, Any], exc: redis.RedisError) -> Response[Any]:
    """Redis is unreachable and this route has no fallback (OAuth logins keep their pending
    flows there): retry, not a server bug."""
    log.warning("redis_unavailable", path=request.url.path, error_class=type(exc).__name__)
    return envelope(request, 503, "service_unavailable",
                    "A dependency (Redis) is unavailable; retry shortly.",
                    headers={"Retry-After": "1"})


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    redis.RedisError: redis_error_handler,
    **dict.fromkeys(UNAVAILABLE_ERRORS, database_error_handler),
    StorageError: storage_error_handler,
    DomainError: domain_error_handler,
    ApiError: api_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}

ERROR_RESPONSES_DOC = "Errors use the envelope {error: {code, message, type, param}}."
