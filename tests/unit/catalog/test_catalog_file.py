"""The base-model catalog file: the shipped one is valid, a broken one fails in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.catalog.values import Capabilities, checked_model_name
from infra.catalog.loader import CatalogError, load_catalog
from infra.settings import load_settings


def test_the_shipped_catalog_is_valid() -> None:
    specs = load_catalog()
    hub_models = [spec for spec in specs if spec.tokenizer != "bytes"]
    assert 3 <= len(hub_models) <= 5  # plus the reference model the local trainer trains
    assert [spec.name for spec in specs if spec.tokenizer == "bytes"] == ["reference-byte-lm"]
    for spec in specs:
        assert checked_model_name(spec.name) == spec.name
        assert spec.context_length >= 2048 and spec.tokenizer
        Capabilities.of(spec.training, spec.serving)


def test_a_custom_catalog_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": [{"name": "m", "context_length": 10,
                                            "tokenizer": "t"}]}))
    [spec] = load_catalog(path)
    assert (spec.name, spec.context_length, spec.training, spec.serving) == ("m", 10, (), False)


@pytest.mark.parametrize("text", ["not json", "[]", '{"models": [{"name": "m"}]}',
                                  '{"models": [{"name": "bad name", "context_length": 1, '
                                  '"tokenizer": "t"}]}',
                                  '{"models": [{"name": "m", "context_length": 0, '
                                  '"tokenizer": "t"}]}',
                                  '{"models": [{"name": "m", "context_length": 1, '
                                  '"tokenizer": "t"}, {"name": "m", "context_length": 1, '
                                  '"tokenizer": "t"}]}'])
def test_a_broken_catalog_fails_with_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(text)
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_a_missing_catalog_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError):
        load_catalog(tmp_path / "nope.json")


def test_model_catalog_file_setting() -> None:
    assert load_settings({}).model_catalog_file is None
    assert load_settings({"MODEL_CATALOG_FILE": "/x.json"}).model_catalog_file == Path("/x.json")
