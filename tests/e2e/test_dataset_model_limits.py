"""Validating a dataset for a model counts its examples against the model's context length."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import error_of, sign_up
from tests.support.datasets import create_dataset, settle_validation, upload_raw

pytestmark = pytest.mark.anyio
MODEL = "smollm2-135m-instruct"  # 8,192 tokens of context in the base catalog


def chat_rows(count: int, answer_chars: int) -> bytes:
    row = {"messages": [{"role": "user", "content": "Summarize."},
                        {"role": "assistant", "content": "x" * answer_chars}]}
    return b"".join(json.dumps(row).encode() + b"\n" for _ in range(count))


async def validate_for(client: httpx.AsyncClient, plane: ControlPlane, headers: dict[str, str],
                       dataset_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
    started = await client.post(f"/v1/datasets/{dataset_id}/validate", headers=headers,
                                json=body)
    assert started.status_code == 202, started.text
    await settle_validation(plane)
    dataset: dict[str, Any] = (await client.get(f"/v1/datasets/{dataset_id}",
                                                headers=headers)).json()
    return dataset


async def test_examples_longer_than_the_models_context_are_reported(
        client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    rows = chat_rows(10, 40) + chat_rows(2, 40_000)  # ~10,000 estimated tokens each
    assert (await upload_raw(client, ada, dataset["id"], rows)).status_code == 201

    checked = await validate_for(client, plane, ada.headers, dataset["id"], {"model": MODEL})
    report = checked["validation"]["report"]
    assert checked["status"] == "invalid"
    assert report["context_length"] == 8192
    assert report["error_counts"] == {"too_long_example": 2}
    assert [e["line"] for e in report["errors"]] == [11, 12]
    assert report["token_stats"]["over_context"] == 2
    assert report["token_stats"]["estimated"] is True


async def test_without_a_model_no_length_is_checked(client: httpx.AsyncClient,
                                                    plane: ControlPlane) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    await upload_raw(client, ada, dataset["id"], chat_rows(10, 40) + chat_rows(2, 40_000))
    checked = await validate_for(client, plane, ada.headers, dataset["id"], None)
    assert checked["status"] == "valid"
    assert checked["validation"]["report"]["context_length"] is None


async def test_an_unknown_model_is_not_found(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    await upload_raw(client, ada, dataset["id"], chat_rows(10, 40))
    response = await client.post(f"/v1/datasets/{dataset['id']}/validate",
                                 headers=ada.headers, json={"model": "no-such-model"})
    assert error_of(response, 404, "not_found")["param"] == "model"
