"""Helpers for dataset tests through HTTP: create, upload, and wait for the validator."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

from interfaces.control_plane import ControlPlane
from interfaces.worker import DATASET_VALIDATION
from projections.tracking import SqlTrackingRecorder
from tests.e2e.conftest import Account

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"
JSONL = {"Content-Type": "application/jsonl"}
VALIDATION_SECONDS = 10.0


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.jsonl").read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def line_count(data: bytes) -> int:
    """Newlines, plus one for a final line without one (what the API reports as `lines`)."""
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


async def create_dataset(client: httpx.AsyncClient, headers: dict[str, str] | Account,
                         name: str = "train", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "purpose": "fine_tuning", "format": "chat", **fields}
    response = await client.post("/v1/datasets", headers=_headers(headers), json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def upload_raw(client: httpx.AsyncClient, headers: dict[str, str] | Account,
                     dataset_id: str, data: bytes) -> httpx.Response:
    return await client.post(f"/v1/datasets/{dataset_id}/upload",
                             headers={**_headers(headers), **JSONL}, content=data)


async def upload_form(client: httpx.AsyncClient, headers: dict[str, str] | Account,
                      dataset_id: str, data: bytes,
                      filename: str = "train.jsonl") -> httpx.Response:
    return await client.post(f"/v1/datasets/{dataset_id}/upload", headers=_headers(headers),
                             files={"file": (filename, data, "application/jsonl")})


async def settle_validation(plane: ControlPlane) -> None:
    """Wait until the validator has handled every dataset event so far, then until the
    projection shows what it recorded: tracking positions, not sleeps."""

    def wait() -> None:
        validator = SqlTrackingRecorder(plane.read_engine, DATASET_VALIDATION,
                                        plane.tracking_signal)
        validator.wait(plane.datasets.name, plane.datasets.recorder.max_notification_id(),
                       timeout=VALIDATION_SECONDS)
        plane.await_projections(plane.datasets.name,
                                plane.datasets.recorder.max_notification_id())

    await anyio.to_thread.run_sync(wait)


async def validated(client: httpx.AsyncClient, plane: ControlPlane, account: Account,
                    dataset_id: str) -> dict[str, Any]:
    """POST /validate (202, `validating`), wait for the worker, and return the dataset."""
    started = await client.post(f"/v1/datasets/{dataset_id}/validate",
                                headers=account.headers)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "validating"
    await settle_validation(plane)
    response = await client.get(f"/v1/datasets/{dataset_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    dataset: dict[str, Any] = response.json()
    assert dataset["status"] in ("valid", "invalid"), dataset
    return dataset


def _headers(who: dict[str, str] | Account) -> dict[str, str]:
    return who.headers if isinstance(who, Account) else who
