"""Errors of the catalog that need their own stable codes."""

from __future__ import annotations

from collections.abc import Sequence

from domain.shared.errors import ConflictError


class ModelInUseError(ConflictError):
    """A deployment or an unfinished job still uses the model: deleting it would break them."""

    code = "model_in_use"

    def __init__(self, model: str, users: Sequence[str]) -> None:
        super().__init__(f"Model {model} is in use by {', '.join(users)}; "
                         "stop or delete those first.")
        self.users = tuple(users)
