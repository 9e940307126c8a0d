"""Tenancy use cases: organizations and projects."""

from __future__ import annotations

from uuid import UUID

from application.shared.base import BitstrideApplication, retry_on_conflict
from application.shared.outcome import Outcome, require_version
from domain.shared.cause import Cause
from domain.shared.errors import NotFoundError
from domain.tenancy.lifecycle import Lifecycle
from domain.tenancy.name_claim import ProjectNameClaim
from domain.tenancy.organization import Organization
from domain.tenancy.project import Project


class TenancyService(BitstrideApplication):
    """Organizations and their projects. One method per command."""

    name = "Tenancy"

    def open_personal_organization(self, owner_user_id: UUID, name: str,
                                   cause: Cause) -> Outcome[Organization]:
        """Idempotent: the id derives from the owner, so a second call changes nothing."""

        def attempt() -> Outcome[Organization]:
            org = Organization.open_personal(owner_user_id, name, cause)
            existing = self.get_or_none(org.id)
            if existing is not None:
                return Outcome(existing, None, replayed=True)
            return Outcome(org, self.last_position(self.save(org)))

        return retry_on_conflict(attempt)

    def organization(self, org_id: UUID) -> Organization:
        org = self.get_or_none(org_id)
        if not isinstance(org, Organization) or org.state is Lifecycle.DELETED:
            raise NotFoundError("No such organization.")
        return org

    def update_organization(self, org_id: UUID, *, name: str | None,
                            settings: dict[str, str] | None, expected_version: int | None,
                            cause: Cause) -> Outcome[Organization]:
        def attempt() -> Outcome[Organization]:
            org = self.organization(org_id)
            require_version(org, expected_version)
            org.update(name=name, settings=settings, cause=cause)
            return Outcome(org, self.last_position(self.save(org)))

        return retry_on_conflict(attempt)

    def delete_organization(self, org_id: UUID, *, actor_user_id: UUID | None, confirm: str,
                            expected_version: int | None, cause: Cause) -> Outcome[Organization]:
        """Marks the org deleted; its projects and sessions are ended by process managers."""

        def attempt() -> Outcome[Organization]:
            org = self.organization(org_id)
            require_version(org, expected_version)
            org.delete(actor_user_id=actor_user_id, confirm_name=confirm, cause=cause)
            return Outcome(org, self.last_position(self.save(org)))

        return retry_on_conflict(attempt)

    def create_project(self, org_id: UUID, *, name: str, description: str,
                       metadata: dict[str, str], request_fingerprint: str,
                       cause: Cause) -> Outcome[Project]:
        def attempt() -> Outcome[Project]:
            project = Project.create(org_id=org_id, name=name, description=description,
                                     metadata=metadata, request_fingerprint=request_fingerprint,
                                     cause=cause)
            if cause.idempotency_key is not None:
                earlier = self.get_or_none(project.id)
                if earlier is not None:
                    return self.replay(earlier, Project, request_fingerprint)
            self._require_open_organization(org_id)
            claim = self._claim(org_id, project.name, project.id)
            return Outcome(project, self.last_position(self.save(project, claim)))

        return retry_on_conflict(attempt)

    def project(self, org_id: UUID, project_id: UUID) -> Project:
        project = self.get_or_none(project_id)
        if not isinstance(project, Project):
            raise NotFoundError("No such project.")
        project.require_visible_to(org_id)
        return project

    def update_project(self, org_id: UUID, project_id: UUID, *, name: str | None,
                       description: str | None, metadata: dict[str, str] | None,
                       expected_version: int | None, cause: Cause) -> Outcome[Project]:
        def attempt() -> Outcome[Project]:
            project = self.project(org_id, project_id)
            require_version(project, expected_version)
            old_name = project.name
            project.update(name=name, description=description, metadata=metadata, cause=cause)
            claims = []
            if project.name.casefold() != old_name.casefold():
                claims = [self._claim(org_id, project.name, project.id),
                          self._released(org_id, old_name, project.id)]
            return Outcome(project, self.last_position(self.save(project, *claims)))

        return retry_on_conflict(attempt)

    def delete_project(self, org_id: UUID, project_id: UUID, *, expected_version: int | None,
                       cause: Cause) -> Outcome[Project]:
        def attempt() -> Outcome[Project]:
            project = self.project(org_id, project_id)
            require_version(project, expected_version)
            project.delete(cause=cause)
            claim = self._released(org_id, project.name, project.id)
            return Outcome(project, self.last_position(self.save(project, claim)))

        return retry_on_conflict(attempt)

    def _require_open_organization(self, org_id: UUID) -> None:
        """A deleted organization gets no new projects. Its absence is allowed: a personal
        organization is opened asynchronously, just after its owner registered."""
        org = self.get_or_none(org_id)
        if isinstance(org, Organization) and org.state is Lifecycle.DELETED:
            raise NotFoundError("No such organization.")

    def organization_is_deleted(self, org_id: UUID) -> bool:
        org = self.get_or_none(org_id)
        return isinstance(org, Organization) and org.state is Lifecycle.DELETED

    def _claim(self, org_id: UUID, name: str, holder: UUID) -> ProjectNameClaim:
        claim = self.get_or_none(ProjectNameClaim.claim_id(org_id, name))
        if claim is None:
            return ProjectNameClaim(org_id=org_id, name=name, holder=holder)
        assert isinstance(claim, ProjectNameClaim)
        claim.claim(holder)
        return claim

    def _released(self, org_id: UUID, name: str, holder: UUID) -> ProjectNameClaim:
        claim = self.get_or_none(ProjectNameClaim.claim_id(org_id, name))
        assert isinstance(claim, ProjectNameClaim)
        claim.release(holder)
        return claim
