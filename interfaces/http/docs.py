"""OpenAPI documentation helpers: every route lists the errors it can answer."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from interfaces.http.errors import ErrorEnvelope

_DESCRIPTIONS = {
    400: "Invalid request: the envelope's `param` names the field.",
    401: "Missing, invalid or revoked credentials.",
    403: "Authenticated, but not allowed to do this.",
    404: "No such object for this caller (another tenant's id included).",
    409: "Conflicts with the current state (`invalid_state_transition`, `name_taken`, "
         "`idempotency_key_reused`).",
    412: "If-Match names a version other than the current one.",
    413: "The request body is too large.",
    429: "Too many attempts: `rate_limited`; retry after the `Retry-After` seconds.",
    502: "The model's server could not be reached (`upstream_unavailable`) or failed "
         "(`upstream_error`).",
    503: "A dependency is unavailable; retry later.",
    504: "The model's server did not answer in time (`upstream_timeout`).",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for the given error statuses, all in the error envelope; 503 always,
    since any route can meet an outage of the database or another dependency."""
    return {status: ResponseSpec(data_container=ErrorEnvelope, description=_DESCRIPTIONS[status],
                                 generate_examples=False)
            for status in sorted({*statuses, 503})}
