"""Reads the auth service's event log from another process (the control plane's worker)."""

from __future__ import annotations

# Importing the aggregates registers their stored event topics, so notifications decode.
import domain.identity.email_index
import domain.identity.organization
import domain.identity.session
import domain.identity.user  # noqa: F401
from application.shared.base import BitstrideApplication


class AuthLogReader(BitstrideApplication):
    """The auth service's log, read-only: same name and transcodings, no commands."""

    name = "Auth"
