"""Ids shared by the auth service and the control plane for tenancy objects."""

from __future__ import annotations

from uuid import UUID

from domain.shared.ids import derived_id


def personal_organization_id(user_id: UUID) -> UUID:
    """Every user's personal organization has an id derived from the user's id.

    Both services compute it, so the access token can name the organization before the
    control plane has recorded it, and creating it twice is impossible.
    """
    return derived_id("personal-org", str(user_id))
