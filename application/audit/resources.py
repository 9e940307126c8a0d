"""Which aggregates the audit history shows, as which resource type and public id.

An aggregate is named by its stored topic (`bitstride.tenancy.Project`), an event by the
aggregate's topic plus its own name (`…Project.Updated` → `project.updated`). Aggregates not
listed here are bookkeeping (name claims, key indexes) or not an organization's (users,
sessions), and usage records are traced through /v1/usage and invoices instead.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from domain.shared.ids import format_id

ORGANIZATION_TOPIC = "bitstride.tenancy.Organization"
TRAINING_JOB_TOPIC = "bitstride.training.TrainingJob"

# Aggregate topic → resource type; a training job's depends on its kind (JOB_TYPES).
RESOURCE_TYPES = {
    ORGANIZATION_TOPIC: "organization",
    "bitstride.tenancy.Project": "project",
    "bitstride.datasets.Dataset": "dataset",
    "bitstride.catalog.Model": "model",
    "bitstride.serving.Deployment": "deployment",
    "bitstride.identity.ApiKey": "api_key",
    "bitstride.billing.Invoice": "invoice",
}
JOB_TYPES = {"fine_tuning": "fine_tuning.job", "rl": "rl.job"}
PREFIXES = {
    "organization": "org", "project": "proj", "dataset": "ds", "model": "model",
    "fine_tuning.job": "ftjob", "rl.job": "rljob", "deployment": "dep", "api_key": "key",
    "invoice": "inv",
}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    """`ReplicaStarting` → `replica_starting`."""
    return _CAMEL.sub("_", name).lower()


def split_topic(topic: str) -> tuple[str, str]:
    """An event topic's aggregate topic and event name."""
    aggregate, _, name = topic.rpartition(".")
    return aggregate, name


def resource_type(aggregate_topic: str, created: Any) -> str | None:
    """The resource type of an aggregate, from its creation event; None if not audited."""
    if aggregate_topic == TRAINING_JOB_TOPIC:
        return JOB_TYPES.get(getattr(created, "kind", ""))
    return RESOURCE_TYPES.get(aggregate_topic)


def organization_of(aggregate_topic: str, created: Any) -> UUID | None:
    """The organization an aggregate belongs to, from its creation event; None for the
    platform's own (base models) and for aggregates without one."""
    if aggregate_topic == ORGANIZATION_TOPIC:
        return created.originator_id  # type: ignore[no-any-return]
    org_id = getattr(created, "org_id", None)
    return org_id if isinstance(org_id, UUID) else None


def event_type(resource: str, event_name: str) -> str:
    """`project` + `Updated` → `project.updated`; `rl.job` + `FilesValidated` →
    `rl.job.files_validated`."""
    return f"{resource}.{snake(event_name)}"


def public_id(resource: str, aggregate_id: UUID) -> str:
    return format_id(PREFIXES[resource], aggregate_id)


def resource_of_prefix(prefix: str) -> list[str]:
    """The resource types whose ids start with `prefix`."""
    return [resource for resource, known in PREFIXES.items() if known == prefix]
