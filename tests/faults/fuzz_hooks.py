"""Schemathesis extensions for tests/faults/fuzzing.py, loaded by the `st` process (`hooks`).

The envelope check, and existing ids mixed into generated path parameters. The ids come in
FUZZ_SEEDED_IDS (JSON: parameter name -> ids) because this module runs in another process.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

SEEDED_IDS: dict[str, list[str]] = json.loads(os.environ.get("FUZZ_SEEDED_IDS", "{}"))


@schemathesis.check
def error_envelope(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                   case: schemathesis.Case) -> bool | None:
    """Every 4xx and 5xx is `{"error": {"code", "message", "type", "param"}}` (DESIGN §5)."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"HTTP {response.status_code} answered a body that is not JSON: "
                             f"{response.text[:200]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict) and set(body) == {"error"}, f"Not the envelope: {body!r}"
    assert isinstance(error.get("code"), str), f"No string `code`: {error!r}"
    assert isinstance(error.get("message"), str), f"No string `message`: {error!r}"
    assert isinstance(error.get("type"), str), f"No string `type`: {error!r}"
    assert "param" in error and (error["param"] is None or isinstance(error["param"], str)), \
        f"`param` must be present, a string or null: {error!r}"
    return True


@schemathesis.hook
def flatmap_path_parameters(context: schemathesis.HookContext,
                            path_parameters: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Sometimes an id that exists, so that requests reach past the 404."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries({
        name: st.sampled_from([value, *SEEDED_IDS.get(name, [])])
        for name, value in path_parameters.items()})
