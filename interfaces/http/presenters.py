"""Turn read-model rows (reads) and aggregates (write responses) into API objects."""

from __future__ import annotations

from typing import Any

from domain.shared.ids import format_id
from domain.tenancy.lifecycle import ALLOWED_ACTIONS
from domain.tenancy.organization import Organization as OrganizationAggregate
from domain.tenancy.project import Project as ProjectAggregate
from interfaces.http.schemas import Organization, Project

# By the state's stored string: building the enum member for each row of a page cost more
# than the rest of presenting it.
_ALLOWED_BY_STATE = {state.value: actions for state, actions in ALLOWED_ACTIONS.items()}


def _unix(aggregate: Any, attribute: str) -> int:
    return int(getattr(aggregate, attribute).timestamp())


def project_from_row(row: dict[str, Any]) -> Project:
    return Project(
        id=f"proj_{row['id']}", object="project",
        organization_id=f"org_{row['org_id']}", name=row["name"],
        description=row["description"], metadata=row["metadata"], status=row["state"],
        allowed_actions=list(_ALLOWED_BY_STATE[row["state"]]), version=row["version"],
        created_at=row["created_at"], updated_at=row["updated_at"])


def project_from_aggregate(project: ProjectAggregate) -> Project:
    return Project(
        id=format_id("proj", project.id), object="project",
        organization_id=format_id("org", project.org_id), name=project.name,
        description=project.description, metadata=project.metadata,
        status=project.state.value, allowed_actions=list(project.allowed_actions),
        version=project.version, created_at=_unix(project, "created_on"),
        updated_at=_unix(project, "modified_on"))


def organization_from_row(row: dict[str, Any]) -> Organization:
    return Organization(
        id=f"org_{row['id']}", object="organization", name=row["name"],
        owner_user_id=f"user_{row['owner_user_id']}", settings=row["settings"],
        status=row["state"], allowed_actions=list(_ALLOWED_BY_STATE[row["state"]]),
        version=row["version"], created_at=row["created_at"], updated_at=row["updated_at"])


def organization_from_aggregate(org: OrganizationAggregate) -> Organization:
    return Organization(
        id=format_id("org", org.id), object="organization", name=org.name,
        owner_user_id=format_id("user", org.owner_user_id), settings=org.settings,
        status=org.state.value, allowed_actions=list(org.allowed_actions), version=org.version,
        created_at=_unix(org, "created_on"), updated_at=_unix(org, "modified_on"))

