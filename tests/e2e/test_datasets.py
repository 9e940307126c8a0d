"""Datasets through HTTP (in-process app, workers running, SQLite and Postgres): the CRUD
routes, streamed uploads as content-addressed versions, and validation by the worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from interfaces.worker import DATASET_VALIDATION
from tests.e2e.conftest import Account, error_of, in_process, sign_up
from tests.support.datasets import (
    create_dataset,
    fixture_bytes,
    line_count,
    sha256,
    upload_form,
    upload_raw,
    validated,
)

pytestmark = pytest.mark.anyio


def path_of(dataset: dict[str, Any]) -> str:
    return f"/v1/datasets/{dataset['id']}"


async def get(client: httpx.AsyncClient, account: Account, dataset_id: str) -> httpx.Response:
    return await client.get(f"/v1/datasets/{dataset_id}", headers=account.headers)


async def listed(client: httpx.AsyncClient, account: Account, **params: Any
                 ) -> dict[str, Any]:
    response = await client.get("/v1/datasets", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def chat_lines(label: str, count: int = 10) -> bytes:
    """A valid chat file of `count` examples, its content distinct per label."""
    row = {"messages": [{"role": "user", "content": f"{label} question"},
                        {"role": "assistant", "content": f"{label} answer"}]}
    return b"".join(json.dumps(row).encode() + b"\n" for _ in range(count))


# -- create, list, get, update, delete ---------------------------------------------------


async def test_create_returns_the_dataset_with_an_etag(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    response = await client.post("/v1/datasets", headers=ada.headers, json={
        "name": "support chats", "purpose": "fine_tuning", "format": "chat",
        "description": "first week", "metadata": {"team": "support"}})
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["id"].startswith("ds_") and dataset["object"] == "dataset"
    assert (dataset["name"], dataset["purpose"], dataset["format"]) == (
        "support chats", "fine_tuning", "chat")
    assert dataset["metadata"] == {"team": "support"}
    assert (dataset["status"], dataset["versions"], dataset["current_version"]) == (
        "created", [], None)
    assert dataset["validation"] is None
    assert "upload" in dataset["allowed_actions"] and "validate" not in dataset["allowed_actions"]
    assert response.headers["ETag"] == f'"{dataset["version"]}"'
    fetched = await get(client, ada, dataset["id"])
    assert fetched.status_code == 200 and fetched.json() == dataset


@pytest.mark.parametrize(("fields", "param"), [
    ({"purpose": "pretraining", "format": "chat"}, "purpose"),
    ({"purpose": "", "format": "chat"}, "purpose"),
    ({"purpose": "fine_tuning", "format": "prompt"}, "format"),
    ({"purpose": "fine_tuning", "format": "csv"}, "format"),
    ({"purpose": "rl", "format": "chat"}, "format"),
    ({"purpose": "rl", "format": "preference"}, "format"),
])
async def test_purpose_and_format_are_checked(client: httpx.AsyncClient,
                                              fields: dict[str, str], param: str) -> None:
    ada = await sign_up(client)
    response = await client.post("/v1/datasets", headers=ada.headers,
                                 json={"name": "bad", **fields})
    error = error_of(response, 400)
    assert error["param"] == param, error
    assert (await listed(client, ada))["data"] == []


async def test_every_purpose_and_format_pair_is_accepted(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    for purpose, data_format in (("fine_tuning", "chat"), ("fine_tuning", "preference"),
                                 ("rl", "prompt")):
        made = await create_dataset(client, ada, f"{purpose}-{data_format}", purpose=purpose,
                                    format=data_format)
        assert (made["purpose"], made["format"]) == (purpose, data_format)


async def test_missing_and_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    error_of(await client.post("/v1/datasets", headers=ada.headers,
                               json={"name": "x", "purpose": "rl"}), 400)
    error = error_of(await client.post("/v1/datasets", headers=ada.headers, json={
        "name": "x", "purpose": "rl", "format": "prompt", "org_id": "org_" + "0" * 32}), 400)
    assert error["code"] == "invalid_request"


async def test_list_is_newest_first_paged_and_filtered_by_purpose(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    made = []
    for i in range(5):
        purpose, data_format = ("rl", "prompt") if i % 2 else ("fine_tuning", "chat")
        made.append(await create_dataset(client, ada, f"d{i}", purpose=purpose,
                                         format=data_format))
    newest_first = [d["id"] for d in reversed(made)]

    everything = await listed(client, ada)
    assert [d["id"] for d in everything["data"]] == newest_first
    assert everything["object"] == "list" and everything["has_more"] is False

    first = await listed(client, ada, limit=2)
    assert [d["id"] for d in first["data"]] == newest_first[:2]
    assert (first["has_more"], first["first_id"], first["last_id"]) == (
        True, newest_first[0], newest_first[1])
    second = await listed(client, ada, limit=2, after=first["last_id"])
    assert [d["id"] for d in second["data"]] == newest_first[2:4]
    assert second["has_more"] is True
    third = await listed(client, ada, limit=2, after=second["last_id"])
    assert [d["id"] for d in third["data"]] == newest_first[4:]
    assert third["has_more"] is False

    rl = await listed(client, ada, purpose="rl")
    assert [d["id"] for d in rl["data"]] == [made[3]["id"], made[1]["id"]]
    tuning = await listed(client, ada, purpose="fine_tuning", limit=1)
    assert [d["id"] for d in tuning["data"]] == [made[4]["id"]] and tuning["has_more"]
    assert (await listed(client, ada, purpose="pretraining"))["data"] == []
    for limit in (0, 101):
        error_of(await client.get("/v1/datasets", headers=ada.headers,
                                  params={"limit": limit}), 400)


async def test_put_updates_and_if_match_guards_it(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada, "before")
    stale = f'"{dataset["version"]}"'
    renamed = await client.put(path_of(dataset), headers={**ada.headers, "If-Match": stale},
                               json={"name": "after", "metadata": {"k": "v"}})
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["name"], body["metadata"], body["description"]) == ("after", {"k": "v"}, "")
    assert body["version"] == dataset["version"] + 1
    assert renamed.headers["ETag"] == f'"{body["version"]}"'

    refused = await client.put(path_of(dataset), headers={**ada.headers, "If-Match": stale},
                               json={"name": "lost update"})
    error_of(refused, 412, "precondition_failed")
    error_of(await client.delete(path_of(dataset), headers={**ada.headers, "If-Match": stale}),
             412, "precondition_failed")
    current = (await get(client, ada, dataset["id"])).json()
    assert current == body

    error_of(await client.put(path_of(dataset), headers=ada.headers,
                              json={"purpose": "rl"}), 400)
    error_of(await client.put(path_of(dataset), headers={**ada.headers, "If-Match": "soon"},
                              json={"name": "x"}), 400, "invalid_request")


async def test_delete_answers_deleted_then_the_dataset_is_gone(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    kept = await create_dataset(client, ada, "kept")
    doomed = await create_dataset(client, ada, "doomed")
    deleted = await client.delete(path_of(doomed),
                                  headers={**ada.headers, "If-Match": f'"{doomed["version"]}"'})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": doomed["id"], "object": "dataset.deleted", "deleted": True}

    error_of(await get(client, ada, doomed["id"]), 404, "not_found")
    assert [d["id"] for d in (await listed(client, ada))["data"]] == [kept["id"]]
    for response in (
            await client.delete(path_of(doomed), headers=ada.headers),
            await client.put(path_of(doomed), headers=ada.headers, json={"name": "back"}),
            await upload_raw(client, ada, doomed["id"], chat_lines("late")),
            await client.post(f"{path_of(doomed)}/validate", headers=ada.headers)):
        error_of(response, 404, "not_found")


async def test_idempotency_key_replays_the_create(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    keyed = {**ada.headers, "Idempotency-Key": f"create-{uuid.uuid4().hex}"}
    body = {"name": "once", "purpose": "rl", "format": "prompt"}
    first = await client.post("/v1/datasets", headers=keyed, json=body)
    again = await client.post("/v1/datasets", headers=keyed, json=body)
    assert first.status_code == 201, first.text
    assert again.status_code in (200, 201), again.text
    assert again.json()["id"] == first.json()["id"]
    assert len((await listed(client, ada))["data"]) == 1
    error_of(await client.post("/v1/datasets", headers=keyed, json={**body, "name": "other"}),
             409, "idempotency_key_reused")
    other_key = await client.post("/v1/datasets", headers={
        **ada.headers, "Idempotency-Key": f"create-{uuid.uuid4().hex}"}, json=body)
    assert other_key.status_code == 201 and other_key.json()["id"] != first.json()["id"]


# -- uploads -----------------------------------------------------------------------------


def assert_version(version: dict[str, Any], number: int, data: bytes) -> None:
    assert version["number"] == number
    assert version["sha256"] == sha256(data)
    assert version["bytes"] == len(data)
    assert version["lines"] == line_count(data)
    assert isinstance(version["uploaded_at"], int)


@pytest.mark.parametrize("upload", [upload_raw, upload_form], ids=["raw", "multipart"])
async def test_upload_records_a_content_addressed_version(
        client: httpx.AsyncClient, plane: ControlPlane, upload: Any) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    data = fixture_bytes("valid_chat")
    response = await upload(client, ada, dataset["id"], data)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["current_version"], len(body["versions"])) == (
        "uploaded", 1, 1)
    assert_version(body["versions"][0], 1, data)
    assert body["versions"][0]["lines"] == 10
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert "validate" in body["allowed_actions"]
    assert (await get(client, ada, dataset["id"])).json() == body
    key = f"datasets/{dataset['id'].removeprefix('ds_')}/{sha256(data)}"
    assert plane.object_store.exists(key)
    with plane.object_store.open(key) as stored:
        assert stored.read() == data


@pytest.mark.parametrize("upload", [upload_raw, upload_form], ids=["raw", "multipart"])
async def test_same_content_again_is_still_version_one(client: httpx.AsyncClient,
                                                       upload: Any) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    data = chat_lines("same")
    first = (await upload(client, ada, dataset["id"], data)).json()
    again = await upload(client, ada, dataset["id"], data)
    assert again.status_code in (200, 201), again.text
    assert again.json()["versions"] == first["versions"]
    assert again.json()["version"] == first["version"]
    assert (await get(client, ada, dataset["id"])).json() == first


async def test_different_content_is_a_new_version_and_the_old_one_stays(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    one, two = chat_lines("one"), chat_lines("two", count=12)
    v1 = (await upload_raw(client, ada, dataset["id"], one)).json()["versions"][0]
    response = await upload_form(client, ada, dataset["id"], two)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["current_version"] == 2
    assert body["versions"][0] == v1
    assert_version(body["versions"][1], 2, two)
    # Back to the first content: a third version (versions are history, not a set).
    third = (await upload_raw(client, ada, dataset["id"], one)).json()
    assert [v["number"] for v in third["versions"]] == [1, 2, 3]
    assert third["versions"][2]["sha256"] == v1["sha256"]


@pytest.mark.parametrize("upload", [upload_raw, upload_form], ids=["raw", "multipart"])
async def test_empty_file_is_a_version_with_no_lines(client: httpx.AsyncClient,
                                                     plane: ControlPlane, upload: Any) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    response = await upload(client, ada, dataset["id"], b"")
    assert response.status_code == 201, response.text
    assert_version(response.json()["versions"][0], 1, b"")
    assert response.json()["versions"][0]["lines"] == 0
    report = (await validated(client, plane, ada, dataset["id"]))["validation"]["report"]
    assert report["valid"] is False
    assert report["examples"] == 0
    assert report["error_counts"] == {"too_few_examples": 1}
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(None, "too_few_examples")]


@pytest.mark.parametrize(("data", "codes"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\xff\xfe",
     {"invalid_utf8", "invalid_json"}),
    (bytes(range(256)) * 4, {"invalid_utf8", "invalid_json"}),
    (b"\x00\x01\x02\x03\n\x7f\x10\n", {"invalid_json"}),
    ("caf\u00e9 cr\u00e8me\n".encode("latin-1") * 3, {"invalid_utf8"}),
    # UTF-16 leaves a lone NUL after the last newline: a final line that fails to parse.
    ("\u00fcber\n".encode("utf-16"), {"invalid_utf8", "truncated_line"}),
], ids=["png", "all-bytes", "control-bytes", "latin-1", "utf-16"])
async def test_binary_and_non_utf8_files_upload_and_validate_invalid(
        client: httpx.AsyncClient, plane: ControlPlane, data: bytes, codes: set[str]) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    response = await upload_form(client, ada, dataset["id"], data, filename="blob.bin")
    assert response.status_code == 201, response.text
    assert_version(response.json()["versions"][0], 1, data)
    result = await validated(client, plane, ada, dataset["id"])
    assert result["status"] == "invalid"
    counts = result["validation"]["report"]["error_counts"]
    assert set(counts) == codes | {"too_few_examples"}, counts


async def test_truncated_last_line_is_reported(client: httpx.AsyncClient,
                                               plane: ControlPlane) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    whole = chat_lines("cut", count=10)
    cut = whole[:-25]  # the tenth example stops mid-string, without a newline
    response = await upload_raw(client, ada, dataset["id"], cut)
    assert_version(response.json()["versions"][0], 1, cut)
    assert response.json()["versions"][0]["lines"] == 10
    report = (await validated(client, plane, ada, dataset["id"]))["validation"]["report"]
    assert [(e["line"], e["code"], e["path"]) for e in report["errors"]] == [
        (10, "truncated_line", "$"), (None, "too_few_examples", "$")]
    assert report["examples"] == 9


async def test_concurrent_uploads_each_become_a_version(client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    files = {chat_lines(f"file {i}", count=10 + i) for i in range(5)}
    responses: list[httpx.Response] = []

    async def send(data: bytes) -> None:
        responses.append(await upload_raw(client, ada, dataset["id"], data))

    async with anyio.create_task_group() as group:
        for data in files:
            group.start_soon(send, data)

    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    final = (await get(client, ada, dataset["id"])).json()
    assert [v["number"] for v in final["versions"]] == [1, 2, 3, 4, 5]
    assert {v["sha256"] for v in final["versions"]} == {sha256(data) for data in files}
    assert {(v["sha256"], v["bytes"], v["lines"]) for v in final["versions"]} == {
        (sha256(data), len(data), line_count(data)) for data in files}


async def test_upload_while_validating_is_a_state_conflict(client: httpx.AsyncClient,
                                                           plane: ControlPlane) -> None:
    validator = next(r for r in plane.process_managers if r.name == DATASET_VALIDATION)
    await anyio.to_thread.run_sync(validator.stop)  # hold the dataset in `validating`
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    await upload_raw(client, ada, dataset["id"], chat_lines("first"))
    started = await client.post(f"{path_of(dataset)}/validate", headers=ada.headers)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "validating"
    assert "upload" not in started.json()["allowed_actions"]

    for upload in (upload_raw, upload_form):
        error = error_of(await upload(client, ada, dataset["id"], chat_lines("second")), 409,
                         "invalid_state_transition")
        assert error["current_state"] == "validating"
        assert error["allowed_actions"] == started.json()["allowed_actions"]
        assert "upload" not in error["allowed_actions"]
    error_of(await client.post(f"{path_of(dataset)}/validate", headers=ada.headers), 409,
             "invalid_state_transition")
    current = (await get(client, ada, dataset["id"])).json()
    assert (current["status"], current["current_version"]) == ("validating", 1)


async def test_a_refused_upload_leaves_no_object_in_the_store(client: httpx.AsyncClient,
                                                              plane: ControlPlane) -> None:
    validator = next(r for r in plane.process_managers if r.name == DATASET_VALIDATION)
    await anyio.to_thread.run_sync(validator.stop)  # hold the dataset in `validating`
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    await upload_raw(client, ada, dataset["id"], chat_lines("first"))
    await client.post(f"{path_of(dataset)}/validate", headers=ada.headers)
    refused = chat_lines("refused")
    error_of(await upload_raw(client, ada, dataset["id"], refused), 409,
             "invalid_state_transition")
    key = f"datasets/{dataset['id'].removeprefix('ds_')}/{sha256(refused)}"
    assert not plane.object_store.exists(key)


async def test_uploads_larger_than_the_limit_are_refused(backend_settings: Settings) -> None:
    limit = 4096
    settings = backend_settings.with_overrides(max_upload_bytes=limit)
    async with in_process(settings) as (plane, client):
        ada = await sign_up(client)
        dataset = await create_dataset(client, ada)
        objects = Path(settings.data_dir) / "objects" / "datasets"

        async def chunked(data: bytes) -> Any:  # no Content-Length: only the store can tell
            for start in range(0, len(data), 1000):
                yield data[start:start + 1000]

        too_big = b"x" * (limit + 1)
        far_too_big = b"y" * (limit * 100)
        headers = {**ada.headers, "Content-Type": "application/jsonl"}
        upload_path = f"{path_of(dataset)}/upload"
        for response in (
                await upload_raw(client, ada, dataset["id"], too_big),
                await upload_raw(client, ada, dataset["id"], far_too_big),
                await upload_form(client, ada, dataset["id"], too_big),
                await upload_form(client, ada, dataset["id"], far_too_big),
                await client.post(upload_path, headers=headers, content=chunked(too_big)),
                await client.post(upload_path, headers=headers,
                                  content=chunked(far_too_big))):
            error_of(response, 413, "request_too_large")

        current = (await get(client, ada, dataset["id"])).json()
        assert (current["status"], current["versions"]) == ("created", [])
        assert [p for p in objects.rglob("*") if p.is_file()] == []
        for digest in (sha256(too_big), sha256(far_too_big)):
            key = f"datasets/{dataset['id'].removeprefix('ds_')}/{digest}"
            assert not plane.object_store.exists(key)

        at_limit = b"z" * limit
        accepted = await upload_raw(client, ada, dataset["id"], at_limit)
        assert accepted.status_code == 201, accepted.text
        assert_version(accepted.json()["versions"][0], 1, at_limit)


# -- validation --------------------------------------------------------------------------


async def test_valid_chat_file_validates_valid(client: httpx.AsyncClient,
                                               plane: ControlPlane) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    await upload_raw(client, ada, dataset["id"], fixture_bytes("valid_chat"))
    result = await validated(client, plane, ada, dataset["id"])
    assert result["status"] == "valid"
    assert "validate" in result["allowed_actions"] and "upload" in result["allowed_actions"]
    validation = result["validation"]
    assert (validation["version"], validation["valid"]) == (1, True)
    report = validation["report"]
    assert (report["valid"], report["detected_format"], report["examples"]) == (
        True, "chat", 10)
    assert (report["errors"], report["error_counts"]) == ([], {})
    assert (report["warnings"], report["warning_counts"]) == ([], {})
    stats = report["token_stats"]
    assert stats["estimated"] is True
    assert stats["total"] > 0 and 0 < stats["p50"] <= stats["p95"] <= stats["max"]
    assert stats["over_context"] == 0
    assert report["truncated"] is False


# fixture: (errors as (line, code, path), warning codes). The worker needs 10 examples, so
# each small fixture also ends with a file-level too_few_examples.
FEW = (None, "too_few_examples", "$")
INVALID_FIXTURES: dict[str, tuple[list[Any], dict[str, int]]] = {
    "invalid_json": ([(2, "invalid_json", "$"), (3, "invalid_json", "$"),
                      (4, "invalid_json", "$"), FEW], {}),
    "invalid_utf8": ([(2, "invalid_utf8", "$"), FEW], {}),
    "truncated_line": ([(2, "truncated_line", "$"), (4, "truncated_line", "$"), FEW], {}),
    "blank_line": ([(2, "blank_line", "$"), (3, "blank_line", "$"), FEW], {}),
    "unknown_role": ([(2, "unknown_role", "$.messages[0].role"),
                      (3, "unknown_role", "$.messages[1].role"), FEW], {}),
    "no_assistant_message": ([(2, "no_assistant_message", "$.messages"),
                              (3, "no_assistant_message", "$.messages"), FEW], {}),
    "bom": ([FEW], {"bom": 1}),
    "too_few_examples": ([FEW], {}),
}


@pytest.mark.parametrize("name", sorted(INVALID_FIXTURES))
async def test_invalid_fixtures_report_their_codes_line_by_line(
        client: httpx.AsyncClient, plane: ControlPlane, name: str) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada, name)
    data = fixture_bytes(name)
    await upload_form(client, ada, dataset["id"], data, filename=f"{name}.jsonl")
    result = await validated(client, plane, ada, dataset["id"])
    errors, warnings = INVALID_FIXTURES[name]
    assert result["status"] == "invalid"
    assert "upload" in result["allowed_actions"]
    report = result["validation"]["report"]
    assert (result["validation"]["version"], report["valid"]) == (1, False)
    assert [(e["line"], e["code"], e["path"]) for e in report["errors"]] == errors
    assert report["warning_counts"] == warnings
    counts: dict[str, int] = {}
    for _, code, _ in errors:
        counts[code] = counts.get(code, 0) + 1
    assert report["error_counts"] == counts
    assert all(e["message"] for e in report["errors"])
    assert report["token_stats"]["estimated"] is True


async def test_preference_and_prompt_fixtures_validate_for_their_format(
        client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    for name, purpose, data_format in (("valid_dpo", "fine_tuning", "preference"),
                                       ("valid_rl", "rl", "prompt")):
        dataset = await create_dataset(client, ada, name, purpose=purpose, format=data_format)
        await upload_raw(client, ada, dataset["id"], fixture_bytes(name))
        result = await validated(client, plane, ada, dataset["id"])
        report = result["validation"]["report"]
        assert result["status"] == "valid", report["error_counts"]
        assert (report["detected_format"], report["examples"]) == (data_format, 10)


async def test_validate_before_any_upload_is_a_state_conflict(
        client: httpx.AsyncClient) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    error = error_of(await client.post(f"{path_of(dataset)}/validate", headers=ada.headers),
                     409, "invalid_state_transition")
    assert error["current_state"] == "created"
    assert "upload" in error["allowed_actions"] and "validate" not in error["allowed_actions"]


async def test_a_new_upload_clears_the_report_and_revalidation_follows_it(
        client: httpx.AsyncClient, plane: ControlPlane) -> None:
    ada = await sign_up(client)
    dataset = await create_dataset(client, ada)
    await upload_raw(client, ada, dataset["id"], fixture_bytes("invalid_json"))
    assert (await validated(client, plane, ada, dataset["id"]))["status"] == "invalid"
    fixed = await upload_raw(client, ada, dataset["id"], fixture_bytes("valid_chat"))
    assert (fixed.json()["status"], fixed.json()["validation"]) == ("uploaded", None)
    result = await validated(client, plane, ada, dataset["id"])
    assert (result["status"], result["validation"]["version"]) == ("valid", 2)
