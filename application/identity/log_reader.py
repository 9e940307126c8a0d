"""Reads the auth service's event log from another process (the control plane's worker)."""

from __future__ import annotations

import importlib
import pkgutil

import domain.identity
from application.shared.base import BitstrideApplication


def register_identity_topics() -> None:
    """Import every identity module, so every stored event topic resolves when decoded.

    Done by walking the package, so an aggregate added later cannot be forgotten here.
    """
    for module in pkgutil.iter_modules(domain.identity.__path__, "domain.identity."):
        importlib.import_module(module.name)


class AuthLogReader(BitstrideApplication):
    """The auth service's log, read-only: same name and transcodings, no commands."""

    name = "Auth"

    def __init__(self, env: object = None) -> None:
        register_identity_topics()
        super().__init__(env)
