"""The product's whole loop on a live `bitstride dev` (as `make run` starts it), from the
outside only: upload a dataset → validate → fine-tune with the reference trainer → the output
model → deploy it with the reference backend → `chat.completions.create` (plain and streamed)
and `models.list` through the official `openai` package → the usage appears for billing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import DevServer, sign_up
from tests.e2e.test_openai_fine_tuning import validated_dataset

pytestmark = pytest.mark.anyio
WAIT_SECONDS = 90.0
TRIES_FOR_TEXT = 5  # chats until one carries text (a sampled reply can be empty)


def wait(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := check()):
        assert time.monotonic() < deadline, f"no {what} within {WAIT_SECONDS:g} s"
        time.sleep(0.2)
    return result


async def test_dataset_to_fine_tune_to_deployment_to_chat_to_usage(
        training_dev_server: DevServer) -> None:
    base_url = training_dev_server.base_url
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as http:
        ada = await sign_up(http)
        train = await validated_dataset(http, ada.headers)
        owner = openai.OpenAI(base_url=f"{base_url}/v1", api_key=ada.access_token,
                              max_retries=0, timeout=10.0)
        job = owner.fine_tuning.jobs.create(model="reference-byte-lm", training_file=train,
                                            suffix="loop")
        done = wait(lambda: (found := owner.fine_tuning.jobs.retrieve(job.id)).status
                    in ("succeeded", "failed", "cancelled") and found, "finished job")
        assert done.status == "succeeded", done.error
        model = str(done.fine_tuned_model)  # registered before the job read `succeeded`

        deployed = await http.post("/v1/deployments", headers=ada.headers,
                                   json={"model": model, "backend": "reference"})
        assert deployed.status_code == 201, deployed.text
        dep = deployed.json()["id"]
        wait(lambda: httpx.get(f"{base_url}/v1/deployments/{dep}", headers=ada.headers)
             .json()["status"] == "ready", "ready deployment")
        key = (await http.post("/v1/api_keys", headers=ada.headers, json={
            "name": "app", "scopes": ["inference:write", "models:read", "usage:read"]})).json()

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key["key"], max_retries=0,
                           timeout=10.0)
    try:
        # The gateway's table follows the deployment within a second of it being ready.
        answer = wait(lambda: _chat(client, model), "routed chat completion")
        assert answer.model == model and answer.usage is not None
        # A sampled reply may end at once (the byte model drew its end token first): text
        # must come back within a few tries, not on the first.
        for _ in range(TRIES_FOR_TEXT - 1):
            if answer.choices[0].message.content:
                break
            answer = _chat(client, model)
        assert answer.choices[0].message.content
        for _ in range(TRIES_FOR_TEXT):  # a streamed reply may be empty too
            chunks = list(client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=6,
                stream=True, stream_options={"include_usage": True}))
            assert chunks[-1].usage is not None and chunks[-1].choices == []
            streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            if streamed:
                break
        assert streamed
        assert model in {(listed.model_extra or {}).get("name")
                         for listed in client.models.list()}

        def billed() -> dict[str, int] | None:
            page = httpx.get(f"{base_url}/v1/usage", headers={
                "Authorization": f"Bearer {key['key']}"}, params={
                "start_time": int(time.time()) - 3600, "bucket_width": "1h",
                "group_by": "meter"}).json()
            totals = {meter: quantity for bucket in page["data"] for result in bucket["results"]
                      for meter, quantity in result["quantities"].items()}
            return totals if "inference.output_tokens" in totals else None

        totals = wait(billed, "usage")
        assert totals["fine_tuning.trained_tokens"] == done.trained_tokens
        assert totals["inference.input_tokens"] >= answer.usage.prompt_tokens
        assert totals["inference.output_tokens"] >= answer.usage.completion_tokens
    finally:
        client.close()
        # Replicas outlive the server by design (a worker restart finds them): stop them.
        headers = {"Authorization": f"Bearer {ada.access_token}"}
        httpx.put(f"{base_url}/v1/deployments/{dep}", headers=headers,
                  json={"desired_state": "stopped"})
        wait(lambda: httpx.get(f"{base_url}/v1/deployments/{dep}", headers=headers)
             .json()["status"] == "stopped", "stopped deployment")


def _chat(client: openai.OpenAI, model: str) -> Any:
    try:
        return client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=8)
    except openai.NotFoundError:
        return None
