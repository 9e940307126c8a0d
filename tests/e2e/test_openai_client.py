"""The official `openai` client against a live `bitstride dev`: the models calls parse."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.conftest import DevServer, sign_up

pytestmark = pytest.mark.anyio
BASE = "smollm2-135m-instruct"


async def test_openai_models_list_retrieve_and_delete(dev_server: DevServer) -> None:
    async with httpx.AsyncClient(base_url=dev_server.base_url, timeout=10.0) as http:
        ada = await sign_up(http)
        registered = await http.post("/v1/models", headers=ada.headers, json={
            "name": "ada-ft", "base_model": BASE, "weights_uri": "s3://weights/ada-ft"})
        assert registered.status_code == 201, registered.text
    own_id = registered.json()["id"]

    client = openai.OpenAI(base_url=f"{dev_server.base_url}/v1", api_key=ada.access_token,
                           max_retries=0, timeout=10.0)
    try:
        models = client.models.list()
        by_id = {model.id: model for model in models}
        assert own_id in by_id and by_id[own_id].owned_by == ada.org_id
        bases = [model for model in models.data if model.owned_by == "bitstride"]
        assert bases and all(model.object == "model" for model in bases)
        assert isinstance(by_id[own_id].created, int)
        assert by_id[own_id].model_extra is not None
        assert by_id[own_id].model_extra["name"] == "ada-ft"

        base = client.models.retrieve(BASE)  # by name, as OpenAI clients do
        assert (base.owned_by, base.object) == ("bitstride", "model")
        assert client.models.retrieve(base.id).id == base.id
        assert client.models.retrieve(own_id).id == own_id

        with pytest.raises(openai.PermissionDeniedError):
            client.models.delete(base.id)
        deleted = client.models.delete(own_id)
        assert (deleted.id, deleted.deleted, deleted.object) == (own_id, True, "model")
        with pytest.raises(openai.NotFoundError) as error:
            client.models.retrieve(own_id)
        assert error.value.code == "not_found"
    finally:
        client.close()
