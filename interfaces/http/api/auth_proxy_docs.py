"""The proxied auth routes are documented by the auth service's own documentation.

The shims pass bodies, statuses and answers through unchanged (auth_proxy.py), so their truth
is the auth service's: its request bodies, success statuses (201 on register, 302 on a provider
login) and errors, plus the 503 the shim answers when the auth service is unreachable. Writing
them twice drifted (the fuzzer of issue 9 found register documented as 200, and no bodies).
"""

from __future__ import annotations

from dataclasses import replace

from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Reference

_METHODS = ("get", "put", "post", "delete", "patch")
_UNREACHABLE = OpenAPIResponse(
    description="The auth service is unreachable; retry shortly.",
    content={"application/json": OpenAPIMediaType(
        schema=Reference(ref="#/components/schemas/ErrorEnvelope"))})


def document_proxied_routes(openapi: OpenAPI, auth: OpenAPI) -> None:
    """Give each proxied operation of `openapi` the auth service's body, parameters and
    answers; its operation id, summary and tags stay the control plane's."""
    for path, theirs in (auth.paths or {}).items():
        mine = (openapi.paths or {}).get(path)
        for method in _METHODS if mine is not None else ():
            ours, source = getattr(mine, method), getattr(theirs, method)
            if ours is None or source is None:
                continue
            setattr(mine, method, replace(
                ours, parameters=source.parameters, request_body=source.request_body,
                responses={**(source.responses or {}), "503": _UNREACHABLE},
                description="\n\n".join(filter(None, (source.description, ours.description)))))
    if openapi.components is not None and auth.components is not None:
        schemas = openapi.components.schemas if openapi.components.schemas is not None else {}
        for name, schema in (auth.components.schemas or {}).items():
            schemas.setdefault(name, schema)
        openapi.components.schemas = schemas
