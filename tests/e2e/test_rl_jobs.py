"""`/v1/rl/jobs` over HTTP: the same routes as fine-tuning with the RL create body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from interfaces.control_plane import ControlPlane
from tests.e2e.conftest import Account, error_of, sign_up
from tests.e2e.test_api_keys import bearer, make_key
from tests.support.training import BASE, GRADER, dataset, drive

pytestmark = pytest.mark.anyio
JOBS = "/v1/rl/jobs"


async def prompts(client: httpx.AsyncClient, plane: ControlPlane, account: Account) -> str:
    return await dataset(client, plane, account, purpose="rl", data_format="prompt")


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any
                 ) -> httpx.Response:
    return await client.post(JOBS, headers=headers,
                             json={"model": BASE, "grader": GRADER, **body})


async def test_create_get_list_cancel(client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    train = await prompts(client, plane, ada)
    response = await create(client, ada.headers, training_file=train, rollouts_per_prompt=4,
                            kl_beta=0.1, sampling={"temperature": 0.7},
                            hyperparameters={"n_epochs": 2}, seed=3, metadata={"k": "v"})
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["id"].startswith("rljob_") and job["object"] == "rl.job"
    assert (job["status"], job["seed"], job["training_file"]) == ("validating_files", 3, train)
    rl = job["method"]["rl"]
    assert job["method"]["type"] == "rl" and rl["grader"]["type"] == "string_check"
    assert (rl["rollouts_per_prompt"], rl["kl_beta"]) == (4, 0.1)
    assert rl["sampling"] == {"temperature": 0.7, "top_p": 1.0, "max_tokens": 1024}
    assert job["hyperparameters"]["n_epochs"] == 2
    assert (await client.get(f"{JOBS}/{job['id']}", headers=ada.headers)).json() == job

    second = (await create(client, ada.headers, training_file=train)).json()
    page = (await client.get(JOBS, headers=ada.headers, params={"limit": 1})).json()
    assert [j["id"] for j in page["data"]] == [second["id"]] and page["has_more"] is True
    assert (await client.get("/v1/fine_tuning/jobs", headers=ada.headers)).json()["data"] == []
    error_of(await client.get(f"/v1/fine_tuning/jobs/{job['id']}", headers=ada.headers), 404)

    cancelled = await client.post(f"{JOBS}/{second['id']}/cancel", headers=ada.headers)
    assert cancelled.json()["status"] == "cancelled"
    error_of(await client.post(f"{JOBS}/{second['id']}/cancel", headers=ada.headers), 409,
             "invalid_state_transition")


async def test_running_job_cancels_when_the_executor_confirms(
        client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    job = (await create(client, ada.headers,
                        training_file=await prompts(client, plane, ada))).json()
    await drive(plane, job["id"], succeed=False)
    cancelling = (await client.post(f"{JOBS}/{job['id']}/cancel", headers=ada.headers)).json()
    assert (cancelling["status"], cancelling["allowed_actions"]) == ("cancelling", [])
    events = (await client.get(f"{JOBS}/{job['id']}/events", headers=ada.headers)).json()
    assert events["data"][0]["message"] == "Cancellation requested"
    assert events["data"][0]["object"] == "rl.job.event"
    checkpoints = (await client.get(f"{JOBS}/{job['id']}/checkpoints",
                                    headers=ada.headers)).json()
    assert [c["step_number"] for c in checkpoints["data"]] == [4, 2]
    assert checkpoints["data"][0]["object"] == "rl.job.checkpoint"
    later = (await client.get(f"{JOBS}/{job['id']}/checkpoints", headers=ada.headers,
                              params={"after": checkpoints["first_id"]})).json()
    assert [c["step_number"] for c in later["data"]] == [2]


@pytest.mark.parametrize(("body", "param"), [
    ({"grader": {"type": "string_check", "input": "{{ sample.output_text }}",
                 "reference": "x", "operation": "contains"}}, "grader.operation"),
    ({"grader": {"type": "python", "source": "def grade(:"}}, "grader.source"),
    ({"rollouts_per_prompt": 0}, "rollouts_per_prompt"),
    ({"kl_beta": 11}, "kl_beta"),
    ({"sampling": {"top_k": 3}}, "sampling.top_k"),
    ({"hyperparameters": {"beta": 0.1}}, "hyperparameters.beta"),
    ({"model": "nope"}, "model"),
])
async def test_create_errors_name_the_param(client: httpx.AsyncClient, plane: ControlPlane,
                                            body: dict[str, Any], param: str) -> None:
    ada = await sign_up(client)
    train = await prompts(client, plane, ada)
    error = error_of(await create(client, ada.headers, **{"training_file": train, **body}), 400)
    assert error["param"] == param, error


async def test_a_chat_dataset_does_not_fit_rl(client: httpx.AsyncClient,
                                              plane: ControlPlane) -> None:
    ada = await sign_up(client)
    chat = await dataset(client, plane, ada)
    error = error_of(await create(client, ada.headers, training_file=chat), 400)
    assert error["param"] == "training_file" and "prompt" in error["message"]


async def test_isolation_idempotency_and_scopes(client: httpx.AsyncClient,
                                                plane: ControlPlane) -> None:
    ada = await sign_up(client)
    bob = await sign_up(client, "bob", name="Bob")
    train = await prompts(client, plane, ada)
    keyed = {**ada.headers, "Idempotency-Key": "rl-1"}
    first = (await create(client, keyed, training_file=train)).json()
    assert (await create(client, keyed, training_file=train)).json()["id"] == first["id"]
    path = f"{JOBS}/{first['id']}"
    for response in (await client.get(path, headers=bob.headers),
                     await client.post(f"{path}/cancel", headers=bob.headers),
                     await client.get(f"{path}/events", headers=bob.headers),
                     await client.get(f"{path}/checkpoints", headers=bob.headers)):
        error_of(response, 404, "not_found")
    error_of(await create(client, bob.headers, training_file=train), 400)

    ft_key = bearer(await make_key(client, ada, ["fine_tuning:write", "fine_tuning:read"]))
    error_of(await client.get(JOBS, headers=ft_key), 403, "insufficient_scope")
    error_of(await create(client, ft_key, training_file=train), 403, "insufficient_scope")
    rl_reader = bearer(await make_key(client, ada, ["rl:read"]))
    assert (await client.get(path, headers=rl_reader)).status_code == 200
    error_of(await client.post(f"{path}/cancel", headers=rl_reader), 403, "insufficient_scope")
