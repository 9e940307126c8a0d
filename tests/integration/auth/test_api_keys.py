"""The auth service's API-key routes over HTTP (SQLite store), and the introspection route."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from domain.identity.api_key_format import compose
from infra.auth.api_key_changes import InProcessApiKeyChanges
from infra.auth.api_key_secret import api_key_secret_path
from infra.auth.revocations import InMemorySessionRevocations
from infra.settings import Settings
from interfaces.http.auth_service.app import create_auth_app

INTERNAL_TOKEN = "internal-" + "k" * 32
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, auth_internal_token=INTERNAL_TOKEN)


@pytest.fixture
def changes() -> list[str]:
    return []


@pytest.fixture
def client(settings: Settings, changes: list[str]) -> Iterator[TestClient]:
    app = create_auth_app(settings, revocations=InMemorySessionRevocations())
    notifier = InProcessApiKeyChanges()
    notifier.subscribe(changes.append, lambda: None)
    app.state.api_key_changes = notifier
    with TestClient(app) as test_client:
        yield test_client


def user_headers(client: TestClient, email: str = "ada@example.com") -> dict[str, str]:
    registered = client.post("/v1/auth/register",
                             json={"email": email, "password": PASSWORD, "name": "Ada"})
    assert registered.status_code == 201, registered.text
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/api_keys", headers=headers,
                           json={"name": "ci", "scopes": ["all"], **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def introspect(client: TestClient, key: str, token: str = INTERNAL_TOKEN) -> Any:
    return client.post("/internal/api_keys/introspect", json={"key": key},
                       headers={"X-Internal-Token": token})


def code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_create_shows_the_key_once_and_lists_it_redacted(client: TestClient) -> None:
    headers = user_headers(client)
    created = create(client, headers, scopes=["projects:read", "orgs:read"],
                     expires_in_days=30)
    key = created["key"]
    assert key.startswith("bsk_") and created["id"].startswith("key_")
    assert created["object"] == "api_key"
    assert created["redacted_value"] == f"{created['prefix']}…{key[-4:]}"
    assert created["scopes"] == ["orgs:read", "projects:read"]
    assert created["expires_at"] == created["created_at"] + 30 * 86400
    assert created["created_by"].startswith("user_")

    listed = client.get("/v1/api_keys", headers=headers).json()
    assert listed["object"] == "list" and listed["has_more"] is False
    [item] = listed["data"]
    assert item["id"] == created["id"] and "key" not in item
    assert key not in str(listed) and key[12:40] not in str(listed)
    assert set(item) >= {"id", "object", "name", "prefix", "redacted_value", "scopes",
                         "project_id", "created_at", "created_by", "expires_at",
                         "last_used_at"}


def test_list_paginates_newest_first(client: TestClient) -> None:
    headers = user_headers(client)
    ids = [create(client, headers, name=f"k{i}")["id"] for i in range(5)]
    first = client.get("/v1/api_keys", headers=headers, params={"limit": 2}).json()
    assert [k["id"] for k in first["data"]] == ids[::-1][:2] and first["has_more"]
    rest = client.get("/v1/api_keys", headers=headers,
                      params={"limit": 10, "after": first["last_id"]}).json()
    assert [k["id"] for k in rest["data"]] == ids[::-1][2:] and not rest["has_more"]
    assert client.get("/v1/api_keys", headers=headers, params={"limit": 0}).status_code == 400


def test_introspection_reports_active_keys_and_notes_use(client: TestClient) -> None:
    headers = user_headers(client)
    created = create(client, headers, scopes=["read"])
    answer = introspect(client, created["key"])
    assert answer.status_code == 200
    body = answer.json()
    assert body["active"] is True and body["key_id"] == created["id"]
    assert body["scopes"] == ["read"] and body["org_id"].startswith("org_")
    assert body["project_id"] is None
    listed = client.get("/v1/api_keys", headers=headers).json()["data"][0]
    assert listed["last_used_at"] is not None


def test_introspection_needs_the_internal_token(client: TestClient) -> None:
    headers = user_headers(client)
    key = create(client, headers)["key"]
    assert introspect(client, key, token="wrong").status_code == 401
    response = client.post("/internal/api_keys/introspect", json={"key": key})
    assert response.status_code == 401


def test_inactive_keys_say_nothing_more(client: TestClient) -> None:
    headers = user_headers(client)
    created = create(client, headers)
    key = created["key"]
    forged = compose(uuid.UUID(created["id"][4:]), 7)  # right id, wrong secret
    bad_checksum = key[:-1] + ("1" if key.endswith("0") else "0")  # always a different key
    answers = [introspect(client, k).json() for k in
               (forged, bad_checksum, "bsk_nope", compose(uuid.uuid4(), 1))]
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["active"] is False and answers[0]["key_id"] is None
    client.delete(f"/v1/api_keys/{created['id']}", headers=headers)
    assert introspect(client, key).json() == answers[0]


def test_update_changes_name_scopes_expiry_and_publishes(client: TestClient,
                                                         changes: list[str]) -> None:
    headers = user_headers(client)
    created = create(client, headers, scopes=["all"])
    response = client.put(f"/v1/api_keys/{created['id']}", headers=headers,
                          json={"name": "renamed", "scopes": ["projects:read"],
                                "expires_in_days": 7})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["scopes"]) == ("renamed", ["projects:read"])
    assert body["expires_at"] is not None and body["version"] == 2
    assert changes == [created["id"]]
    cleared = client.put(f"/v1/api_keys/{created['id']}", headers=headers,
                         json={"expires_in_days": None}).json()
    assert cleared["expires_at"] is None and cleared["name"] == "renamed"
    assert introspect(client, created["key"]).json()["scopes"] == ["projects:read"]


@pytest.mark.parametrize("body", [
    {"secret": "x"}, {"key": "bsk_x"}, {"org_id": "org_" + "0" * 32}, {"created_by": "user_x"},
    {"project_id": None}, {"last4": "abcd"}, {"name": "ok", "revoked": False},
])
def test_update_rejects_fields_it_does_not_own(client: TestClient, body: dict[str, Any]) -> None:
    headers = user_headers(client)
    created = create(client, headers)
    response = client.put(f"/v1/api_keys/{created['id']}", headers=headers, json=body)
    assert response.status_code == 400, response.text
    after = client.get("/v1/api_keys", headers=headers).json()["data"][0]
    assert after["version"] == 1 and after["name"] == "ci"


@pytest.mark.parametrize("body", [
    {"name": "x", "scopes": ["admin"]}, {"name": "x", "scopes": []},
    {"name": "", "scopes": ["all"]}, {"name": "x", "scopes": ["all"], "expires_in_days": 366},
    {"name": "x", "scopes": ["all"], "expires_in_days": 0},
    {"name": "x", "scopes": ["all"], "project_id": "org_" + "0" * 32},
    {"name": "x", "scopes": ["all"], "secret": "chosen"},
])
def test_create_validates(client: TestClient, body: dict[str, Any]) -> None:
    headers = user_headers(client)
    response = client.post("/v1/api_keys", headers=headers, json=body)
    assert response.status_code == 400, response.text


def test_revoke_then_gone(client: TestClient, changes: list[str]) -> None:
    headers = user_headers(client)
    created = create(client, headers)
    response = client.delete(f"/v1/api_keys/{created['id']}", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"id": created["id"], "object": "api_key.deleted",
                               "deleted": True}
    assert changes == [created["id"]]
    assert client.get("/v1/api_keys", headers=headers).json()["data"] == []
    assert client.delete(f"/v1/api_keys/{created['id']}", headers=headers).status_code == 404
    assert client.put(f"/v1/api_keys/{created['id']}", headers=headers,
                      json={"name": "x"}).status_code == 404


def test_another_orgs_key_is_not_found(client: TestClient) -> None:
    alice = user_headers(client, "alice@example.com")
    bob = user_headers(client, "bob@example.com")
    created = create(client, alice)
    for response in (client.put(f"/v1/api_keys/{created['id']}", headers=bob,
                                json={"name": "mine"}),
                     client.delete(f"/v1/api_keys/{created['id']}", headers=bob)):
        assert response.status_code == 404 and code(response) == "not_found"
    assert client.get("/v1/api_keys", headers=bob).json()["data"] == []
    assert introspect(client, created["key"]).json()["active"] is True


def test_keys_cannot_manage_keys(client: TestClient) -> None:
    headers = user_headers(client)
    created = create(client, headers)
    as_key = {"Authorization": f"Bearer {created['key']}"}
    for response in (client.get("/v1/api_keys", headers=as_key),
                     client.post("/v1/api_keys", headers=as_key,
                                 json={"name": "child", "scopes": ["all"]}),
                     client.put(f"/v1/api_keys/{created['id']}", headers=as_key,
                                json={"scopes": ["all"]}),
                     client.delete(f"/v1/api_keys/{created['id']}", headers=as_key)):
        assert response.status_code == 403 and code(response) == "user_token_required"
    assert client.get("/v1/api_keys").status_code == 401


def test_server_secret_is_generated_private_and_kept(client: TestClient,
                                                     settings: Settings) -> None:
    path = api_key_secret_path(settings)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().strip()) >= 32


def test_events_hold_no_key(client: TestClient, settings: Settings) -> None:
    headers = user_headers(client)
    key = create(client, headers)["key"]
    introspect(client, key)
    stored = settings.auth_sqlite_path.read_bytes()
    assert key.encode() not in stored and key.split("_")[2].encode() not in stored


def test_if_match_makes_writes_conditional(client: TestClient) -> None:
    headers = user_headers(client)
    created = create(client, headers)
    path = f"/v1/api_keys/{created['id']}"
    stale = client.put(path, headers={**headers, "If-Match": '"2"'}, json={"name": "x"})
    assert stale.status_code == 412 and code(stale) == "precondition_failed"
    fresh = client.put(path, headers={**headers, "If-Match": '"1"'}, json={"name": "x"})
    assert fresh.status_code == 200 and fresh.json()["version"] == 2
    assert client.delete(path, headers={**headers, "If-Match": '"1"'}).status_code == 412
    assert client.delete(path, headers={**headers, "If-Match": '"2"'}).status_code == 200
