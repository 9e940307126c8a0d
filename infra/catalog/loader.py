"""Reads the base-model catalog: a JSON file of entries, checked before anything is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from application.models.ports import BaseModelSpec
from domain.catalog.values import Capabilities, checked_context_length, checked_model_name
from domain.shared.errors import ValidationFailedError
from infra.json_files import read_json_file
from infra.settings import SettingsError

DEFAULT_CATALOG_FILE = Path(__file__).resolve().parent / "base_models.json"


class CatalogError(SettingsError):
    """The catalog file is missing or malformed; the message is one actionable line."""


def load_catalog(path: Path | None = None) -> list[BaseModelSpec]:
    """The entries of `path` (MODEL_CATALOG_FILE), or of the catalog shipped with Bitstride."""
    source = path or DEFAULT_CATALOG_FILE
    document = read_json_file(source, "MODEL_CATALOG_FILE", CatalogError)
    entries = document.get("models") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise CatalogError(f"MODEL_CATALOG_FILE {source} must hold {{\"models\": [...]}}")
    specs = [_spec(source, index, entry) for index, entry in enumerate(entries)]
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise CatalogError(f"MODEL_CATALOG_FILE {source} names a model twice")
    return specs


def _spec(source: Path, index: int, entry: Any) -> BaseModelSpec:
    try:
        capabilities = entry.get("capabilities", {})
        spec = BaseModelSpec(
            name=str(entry["name"]), context_length=int(entry["context_length"]),
            tokenizer=str(entry["tokenizer"]),
            training=tuple(str(m) for m in capabilities.get("training", [])),
            serving=bool(capabilities.get("serving", False)),
            description=str(entry.get("description", "")))
        checked_model_name(spec.name)
        checked_context_length(spec.context_length)
        Capabilities.of(spec.training, spec.serving)
    except ValidationFailedError as error:
        raise CatalogError(f"MODEL_CATALOG_FILE {source}: entry {index}: {error.message}"
                           ) from None
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CatalogError(f"MODEL_CATALOG_FILE {source}: entry {index} is malformed "
                           f"({type(error).__name__}: {error})") from None
    return spec
