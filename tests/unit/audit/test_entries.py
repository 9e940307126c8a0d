"""Events described as audit entries: type names, resources, organizations, actor, payload."""

from __future__ import annotations

from uuid import uuid4

import pytest

from application.audit.entries import Subject, entry_of, jsonable, subject_of
from application.audit.redaction import REDACTED
from application.audit.resources import event_type, snake
from domain.identity.api_key import ApiKey, Expiry
from domain.shared.cause import Cause
from domain.tenancy.name_claim import ProjectNameClaim
from domain.tenancy.organization import Organization
from domain.tenancy.project import Project

CAUSE = Cause(actor_id="user_1", actor_kind="user", request_id="req_1",
              idempotency_key="idem")


@pytest.mark.parametrize(("resource", "name", "expected"), [
    ("project", "Updated", "project.updated"),
    ("fine_tuning.job", "FilesValidated", "fine_tuning.job.files_validated"),
    ("rl.job", "CancelRequested", "rl.job.cancel_requested"),
    ("deployment", "ReplicaStarting", "deployment.replica_starting"),
    ("api_key", "Created", "api_key.created")])
def test_event_types(resource: str, name: str, expected: str) -> None:
    assert event_type(resource, name) == expected
    assert snake("TotpUsed") == "totp_used"


def test_a_project_history_is_described() -> None:
    org = uuid4()
    project = Project.create(org_id=org, name="p", description="", metadata={"a": "b"},
                             request_fingerprint="f", cause=CAUSE)
    project.update(name="q", description=None, metadata=None, cause=CAUSE)
    created, updated = project.collect_events()
    subject = subject_of(created)
    assert subject == Subject(org, "project")
    entry = entry_of(updated, subject)
    assert (entry.type, entry.resource_id, entry.version) == (
        "project.updated", f"proj_{project.id.hex}", 2)
    assert (entry.actor_id, entry.actor_kind, entry.request_id, entry.idempotency_key) == (
        "user_1", "user", "req_1", "idem")
    assert entry.payload == {"name": "q", "description": "", "metadata": {"a": "b"}}
    assert entry.effective_at == int(updated.timestamp.timestamp())
    assert entry_of(created, subject).payload["org_id"] == org.hex


def test_organizations_are_their_own_and_bookkeeping_is_not_audited() -> None:
    org = Organization.open_personal(uuid4(), "Org", CAUSE)
    subject = subject_of(org.collect_events()[0])
    assert subject == Subject(org.id, "organization")
    claim = ProjectNameClaim(org_id=org.id, name="p", holder=uuid4())
    assert subject_of(claim.collect_events()[0]) is None


def test_an_api_key_secret_is_redacted() -> None:
    key = ApiKey.issue(key_id=uuid4(), org_id=uuid4(), created_by=uuid4(), name="ci",
                       scopes=["read"], creator_scopes=["all"], project_id=None,
                       prefix="bsk_abc", last4="wxyz", secret_hmac="deadbeef",
                       expiry=Expiry(days=None), now=1.0, cause=CAUSE)
    created = key.collect_events()[0]
    subject = subject_of(created)
    assert subject is not None and subject.resource_type == "api_key"
    entry = entry_of(created, subject)
    assert entry.resource_id == f"key_{key.id.hex}"
    assert entry.payload["secret_hmac"] == REDACTED and entry.payload["last4"] == "wxyz"


def test_jsonable() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal
    from enum import StrEnum

    class Color(StrEnum):
        RED = "red"

    value = uuid4()
    assert jsonable({"id": value, "at": datetime(2026, 1, 1, tzinfo=UTC),
                     "amount": Decimal("1.10"), "color": Color.RED, "tags": ("a", 1)}) == {
        "id": value.hex, "at": "2026-01-01T00:00:00+00:00", "amount": "1.10",
        "color": "red", "tags": ["a", 1]}
    assert type(jsonable(Color.RED)) is str
