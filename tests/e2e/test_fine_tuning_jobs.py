"""`/v1/fine_tuning/jobs` over HTTP: create, list, get, cancel, events, checkpoints, errors,
idempotency, tenants and scopes. The scheduler does not exist yet: tests drive jobs with the
worker's commands on `plane.training`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, create_project, error_of, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.support.training import BASE, dataset, drive

pytestmark = pytest.mark.anyio
JOBS = "/v1/fine_tuning/jobs"
OPENAI_FIELDS = {"id", "object", "created_at", "model", "status", "training_file",
                 "validation_file", "hyperparameters", "method", "fine_tuned_model",
                 "trained_tokens", "result_files", "seed", "error", "finished_at",
                 "organization_id", "metadata", "estimated_finish"}


async def create(client: httpx.AsyncClient, headers: dict[str, str] | Account,
                 **body: Any) -> httpx.Response:
    headers = headers.headers if isinstance(headers, Account) else headers
    return await client.post(JOBS, headers=headers, json={"model": BASE, **body})


async def created(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await create(client, account, **body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def test_create_get_and_list(client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    train = await dataset(client, plane, ada)
    valid = await dataset(client, plane, ada, name="valid")
    job = await created(client, ada, training_file=train, validation_file=valid, seed=7,
                        suffix="support", metadata={"team": "a"},
                        method={"type": "supervised",
                                "supervised": {"hyperparameters": {"n_epochs": 2}}})
    assert set(job) >= OPENAI_FIELDS
    assert job["id"].startswith("ftjob_") and job["object"] == "fine_tuning.job"
    assert (job["status"], job["allowed_actions"], job["version"]) == (
        "validating_files", ["cancel"], 1)
    assert (job["training_file"], job["validation_file"]) == (train, valid)
    assert job["model"].startswith("model_") and job["organization_id"] == ada.org_id
    assert job["hyperparameters"] == {"n_epochs": 2, "batch_size": 1,
                                      "learning_rate_multiplier": 1.0}
    assert job["method"] == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 2, "batch_size": "auto", "learning_rate_multiplier": "auto"}}}
    assert (job["seed"], job["user_provided_suffix"], job["metadata"]) == (7, "support",
                                                                          {"team": "a"})
    assert job["error"] is None and job["estimated_finish"] is None and job["project_id"] is None
    assert job["progress"] == {"step": 0, "total_steps": None}
    assert job["dataset_versions"] == [{"dataset_id": train, "version": 1},
                                       {"dataset_id": valid, "version": 1}]
    got = await client.get(f"{JOBS}/{job['id']}", headers=ada.headers)
    assert got.status_code == 200 and got.json() == job

    generated = await created(client, ada, training_file=train,
                              hyperparameters={"batch_size": 4})  # OpenAI's legacy field
    assert isinstance(generated["seed"], int) and generated["hyperparameters"]["batch_size"] == 4
    third = await created(client, ada, training_file=train)
    first = (await client.get(JOBS, headers=ada.headers, params={"limit": 2})).json()
    assert [j["id"] for j in first["data"]] == [third["id"], generated["id"]]
    assert (first["object"], first["has_more"], first["first_id"], first["last_id"]) == (
        "list", True, third["id"], generated["id"])
    rest = (await client.get(JOBS, headers=ada.headers,
                             params={"limit": 2, "after": first["last_id"]})).json()
    assert [j["id"] for j in rest["data"]] == [job["id"]] and rest["has_more"] is False


async def test_dpo_job_pins_a_preference_dataset(client: httpx.AsyncClient,
                                                  plane: ControlPlane) -> None:
    ada = await sign_up(client)
    pairs = await dataset(client, plane, ada, data_format="preference")
    job = await created(client, ada, training_file=pairs, method={
        "type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}})
    assert job["method"]["type"] == "dpo" and job["hyperparameters"]["beta"] == 0.2


async def test_cancel_a_queued_job_then_409(client: httpx.AsyncClient,
                                            plane: ControlPlane) -> None:
    ada = await sign_up(client)
    job = await created(client, ada, training_file=await dataset(client, plane, ada))
    cancelled = await client.post(f"{JOBS}/{job['id']}/cancel", headers=ada.headers)
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["allowed_actions"]) == ("cancelled", [])
    assert isinstance(body["finished_at"], int)
    again = error_of(await client.post(f"{JOBS}/{job['id']}/cancel", headers=ada.headers), 409,
                     "invalid_state_transition")
    assert (again["current_state"], again["allowed_actions"]) == ("cancelled", [])
    got = (await client.get(f"{JOBS}/{job['id']}", headers=ada.headers)).json()
    assert got["status"] == "cancelled"


async def test_events_and_checkpoints_of_a_driven_job(client: httpx.AsyncClient,
                                                      plane: ControlPlane) -> None:
    ada = await sign_up(client)
    job = await created(client, ada, training_file=await dataset(client, plane, ada))
    await drive(plane, job["id"])
    done = (await client.get(f"{JOBS}/{job['id']}", headers=ada.headers)).json()
    assert (done["status"], done["fine_tuned_model"], done["trained_tokens"]) == (
        "succeeded", "ft-test-model", 1234)
    assert done["progress"] == {"step": 4, "total_steps": 4}
    assert done["result_files"] == ["results/metrics.csv"] and done["allowed_actions"] == []
    assert (done["started_at"], done["finished_at"]) == (1_700_000_000, 1_700_000_100)
    error_of(await client.post(f"{JOBS}/{job['id']}/cancel", headers=ada.headers), 409,
             "invalid_state_transition")

    events = (await client.get(f"{JOBS}/{job['id']}/events", headers=ada.headers)).json()
    messages = [event["message"] for event in events["data"]]
    assert messages[0] == "The job has successfully completed"
    assert messages[-1].startswith("Created fine-tuning job")
    assert len(messages) == 7 and events["has_more"] is False
    for event in events["data"]:
        assert event["id"].startswith("ftevent_") and event["object"] == "fine_tuning.job.event"
        assert event["level"] in ("info", "warn", "error") and event["type"] in ("message",
                                                                                 "metrics")
    metrics = [e for e in events["data"] if e["type"] == "metrics"]
    assert [e["data"] for e in metrics] == [{"step": 1, "train_loss": 2.5}]
    page = (await client.get(f"{JOBS}/{job['id']}/events", headers=ada.headers,
                             params={"limit": 3})).json()
    assert page["has_more"] is True and len(page["data"]) == 3
    after = (await client.get(f"{JOBS}/{job['id']}/events", headers=ada.headers,
                              params={"limit": 10, "after": page["last_id"]})).json()
    assert [e["id"] for e in page["data"] + after["data"]] == [e["id"] for e in events["data"]]
    error_of(await client.get(f"{JOBS}/{job['id']}/events", headers=ada.headers,
                              params={"after": "nope"}), 400)

    checkpoints = (await client.get(f"{JOBS}/{job['id']}/checkpoints",
                                    headers=ada.headers)).json()
    assert [c["step_number"] for c in checkpoints["data"]] == [4, 2]
    newest = checkpoints["data"][0]
    assert newest["id"].startswith("ftckpt_") and newest["fine_tuning_job_id"] == job["id"]
    assert newest["object"] == "fine_tuning.job.checkpoint"
    assert newest["metrics"] == {"step": 4, "train_loss": 0.5}
    assert newest["file_key"].endswith("/4") and newest["fine_tuned_model_checkpoint"]


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "no-such-model"}, "model"),
    ({"training_file": "ds_" + "0" * 32}, "training_file"),
    ({"training_file": "not-an-id"}, "training_file"),
    ({"method": {"type": "dpo"}}, "training_file"),  # a chat dataset cannot train dpo
    ({"method": {"type": "reinforcement"}}, "method.type"),
    ({"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}}},
     "method.supervised.hyperparameters.n_epochs"),
    ({"hyperparameters": {"learning_rate_multiplier": -1}},
     "method.supervised.hyperparameters.learning_rate_multiplier"),
    ({"method": {"type": "dpo", "dpo": {}}, "hyperparameters": {"n_epochs": 2}},
     "hyperparameters"),
    ({"suffix": "has spaces"}, "suffix"),
    ({"seed": -1}, "seed"),
])
async def test_create_errors_name_the_param(client: httpx.AsyncClient, plane: ControlPlane,
                                            body: dict[str, Any], param: str) -> None:
    ada = await sign_up(client)
    train = await dataset(client, plane, ada)
    error = error_of(await create(client, ada, **{"training_file": train, **body}), 400)
    assert error["param"] == param, error
    assert (await client.get(JOBS, headers=ada.headers)).json()["data"] == []


async def test_unvalidated_and_other_orgs_datasets_are_refused(
        client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    bob = await sign_up(client, "bob", name="Bob")
    raw = await dataset(client, plane, ada, validate=False)
    error = error_of(await create(client, ada, training_file=raw), 400, "invalid_value")
    assert error["param"] == "training_file" and "uploaded" in error["message"]
    bobs = await dataset(client, plane, bob)
    error = error_of(await create(client, ada, training_file=raw, validation_file=bobs), 400)
    assert error["param"] in ("training_file", "validation_file")
    train = await dataset(client, plane, ada, name="ok")
    error = error_of(await create(client, ada, training_file=train, validation_file=bobs), 400)
    assert error["param"] == "validation_file"


async def test_idempotency_key_returns_the_first_job(client: httpx.AsyncClient,
                                                     plane: ControlPlane) -> None:
    ada = await sign_up(client)
    train = await dataset(client, plane, ada)
    keyed = {**ada.headers, "Idempotency-Key": "job-1"}
    first = await create(client, keyed, training_file=train, seed=1)
    again = await create(client, keyed, training_file=train, seed=1)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    error_of(await create(client, keyed, training_file=train, seed=2), 409,
             "idempotency_key_reused")
    assert len((await client.get(JOBS, headers=ada.headers)).json()["data"]) == 1


async def test_another_orgs_job_is_not_found_everywhere(client: httpx.AsyncClient,
                                                        plane: ControlPlane) -> None:
    ada = await sign_up(client)
    bob = await sign_up(client, "bob", name="Bob")
    job = await created(client, ada, training_file=await dataset(client, plane, ada))
    path = f"{JOBS}/{job['id']}"
    for response in (await client.get(path, headers=bob.headers),
                     await client.post(f"{path}/cancel", headers=bob.headers),
                     await client.get(f"{path}/events", headers=bob.headers),
                     await client.get(f"{path}/checkpoints", headers=bob.headers),
                     await client.get(f"/v1/rl/jobs/{job['id']}", headers=ada.headers),
                     await client.get(f"/v1/rl/jobs/rljob_{job['id'][6:]}",
                                      headers=ada.headers)):
        error_of(response, 404, "not_found")
    assert (await client.get(JOBS, headers=bob.headers)).json()["data"] == []
    assert (await client.get(path, headers=ada.headers)).json()["status"] == "validating_files"


async def test_scopes_and_project_keys(client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    mine = await create_project(client, ada, "mine")
    other = await create_project(client, ada, "other")
    train = await dataset(client, plane, ada, project_id=mine["id"])
    elsewhere = await dataset(client, plane, ada, name="elsewhere", project_id=other["id"])
    reader = bearer(await make_key(client, ada, ["fine_tuning:read"]))
    error_of(await create(client, reader, training_file=train), 403, "insufficient_scope")
    rl_only = bearer(await make_key(client, ada, ["rl:read"]))
    error_of(await client.get(JOBS, headers=rl_only), 403, "insufficient_scope")

    key = bearer(await make_key(client, ada, ["fine_tuning:write", "fine_tuning:read"],
                                project_id=mine["id"]))
    job = (await create(client, key, training_file=train)).json()
    assert job["project_id"] == mine["id"]
    error = error_of(await create(client, key, training_file=elsewhere), 400)
    assert error["param"] == "training_file"
    theirs = await created(client, ada, training_file=elsewhere, project_id=other["id"])
    assert [j["id"] for j in (await client.get(JOBS, headers=key)).json()["data"]] == [
        job["id"]]
    error_of(await client.get(f"{JOBS}/{theirs['id']}", headers=key), 404, "not_found")
    error_of(await client.post(f"{JOBS}/{theirs['id']}/cancel", headers=key), 404)
    assert (await client.get(f"{JOBS}/{theirs['id']}", headers=reader)).status_code == 200


async def test_the_openapi_document_names_every_job_route(client: httpx.AsyncClient) -> None:
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200, document.text
    operations = {operation["operationId"] for path, item in document.json()["paths"].items()
                  if "/jobs" in path for operation in item.values()}
    assert operations == {f"{verb}{kind}{suffix}" for kind in ("FineTuningJob", "RlJob")
                          for verb, suffix in (("create", ""), ("list", "s"), ("get", ""),
                                               ("cancel", ""), ("list", "Events"),
                                               ("list", "Checkpoints"))}
