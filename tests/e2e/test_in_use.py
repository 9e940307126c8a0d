"""A dataset or model that an unfinished job trains from cannot be deleted (issue 4)."""

from __future__ import annotations

import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import error_of, sign_up
from tests.support.training import BASE, dataset, settle

pytestmark = pytest.mark.anyio
JOBS = "/v1/fine_tuning/jobs"


async def test_deleting_what_an_unfinished_job_uses_is_a_conflict_naming_it(
        client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    dataset_id = await dataset(client, plane, ada)
    registered = await client.post("/v1/models", headers=ada.headers, json={
        "name": "ada-base-copy", "base_model": BASE, "weights_uri": "s3://weights/ada"})
    assert registered.status_code == 201, registered.text
    model_id = registered.json()["id"]
    job = await client.post(JOBS, headers=ada.headers,
                            json={"model": model_id, "training_file": dataset_id})
    assert job.status_code == 200, job.text
    job_id = job.json()["id"]
    await settle(plane)

    refused = error_of(await client.delete(f"/v1/datasets/{dataset_id}", headers=ada.headers),
                       409, "dataset_in_use")
    assert job_id in refused["message"]
    refused = error_of(await client.delete(f"/v1/models/{model_id}", headers=ada.headers),
                       409, "model_in_use")
    assert job_id in refused["message"]

    cancelled = await client.post(f"{JOBS}/{job_id}/cancel", headers=ada.headers)
    assert cancelled.status_code == 200, cancelled.text
    await settle(plane)
    assert (await client.delete(f"/v1/datasets/{dataset_id}",
                                headers=ada.headers)).status_code == 200
    assert (await client.delete(f"/v1/models/{model_id}", headers=ada.headers)).status_code == 200
