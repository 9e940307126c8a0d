"""Shared value rules for names, descriptions and string maps."""

from __future__ import annotations

from collections.abc import Mapping

from domain.shared.errors import ValidationFailedError

MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_LENGTH = 64
MAX_METADATA_VALUE_LENGTH = 512


def checked_name(value: str, *, param: str = "name", max_length: int = 100) -> str:
    """A trimmed name of 1..max_length characters."""
    name = value.strip()
    if not 1 <= len(name) <= max_length:
        raise ValidationFailedError(
            f"'{param}' must be 1 to {max_length} characters long.", param=param)
    return name


def checked_text(value: str, *, param: str, max_length: int) -> str:
    if len(value) > max_length:
        raise ValidationFailedError(
            f"'{param}' must be at most {max_length} characters long.", param=param)
    return value


def checked_metadata(values: Mapping[str, str], *, param: str = "metadata") -> dict[str, str]:
    """A bounded string map, as OpenAI's `metadata`: 16 keys, 64-char keys, 512-char values."""
    if len(values) > MAX_METADATA_KEYS:
        raise ValidationFailedError(
            f"'{param}' may hold at most {MAX_METADATA_KEYS} keys.", param=param)
    for key, value in values.items():
        if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
            raise ValidationFailedError(
                f"Keys of '{param}' must be 1 to {MAX_METADATA_KEY_LENGTH} characters long.",
                param=f"{param}.{key[:MAX_METADATA_KEY_LENGTH]}")
        if len(value) > MAX_METADATA_VALUE_LENGTH:
            raise ValidationFailedError(
                f"Values of '{param}' must be at most {MAX_METADATA_VALUE_LENGTH} characters.",
                param=f"{param}.{key}")
    return dict(values)


def revised(current: tuple[str, str, dict[str, str]], *, name: str | None,
            description: str | None, metadata: dict[str, str] | None,
            max_description: int) -> tuple[str, str, dict[str, str]] | None:
    """(name, description, metadata) after a partial update, checked; None if unchanged."""
    new = (current[0] if name is None else checked_name(name),
           current[1] if description is None else checked_text(
               description, param="description", max_length=max_description),
           current[2] if metadata is None else checked_metadata(metadata))
    return None if new == current else new
