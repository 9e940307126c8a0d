"""The app in process (Litestar's test client): what a failure inside generation looks like."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import openai
import pytest
from litestar.testing import TestClient

from infra.reference.model import init_params
from infra.reference.server.app import Served, create_app

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def broken() -> Iterator[TestClient]:  # type: ignore[type-arg]
    """A model whose output layer has the wrong shape: every forward pass raises."""
    params = init_params(0)
    params = type(params)(params.sizes, params.embedding, params.w1, params.b1,
                          np.zeros((3, 3)), params.b2)
    with TestClient(create_app(Served(params, "ref", 0))) as client:
        yield client


def test_a_failure_is_a_500_in_openai_shape(broken: TestClient) -> None:  # type: ignore[type-arg]
    response = broken.post("/v1/chat/completions", json={"model": "ref", "messages": USER})
    assert response.status_code == 500
    assert response.json() == {"error": {
        "message": "The server had an error while processing your request.",
        "type": "server_error", "param": None, "code": None}}


def test_a_failure_mid_stream_is_an_error_event(broken: TestClient) -> None:  # type: ignore[type-arg]
    response = broken.post("/v1/completions", json={"model": "ref", "prompt": "x",
                                                    "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[len("data: "):] for line in response.text.split("\n\n") if line]
    assert json.loads(events[-1])["error"]["type"] == "server_error"
    assert "[DONE]" not in events
    client = openai.OpenAI(base_url="http://testserver.local/v1", api_key="unused",
                           http_client=broken, max_retries=0)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError, match="failed while generating"):
        list(client.completions.create(model="ref", prompt="x", stream=True))
