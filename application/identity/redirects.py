"""Where a browser may be sent after a provider login: configured first-party URLs only.

An entry of LOGIN_REDIRECT_URLS allows a `redirect_to` with the same scheme, host and port
and a path equal to the entry's path or below it (`https://app.example.com/auth` allows
`/auth` and `/auth/done`, not `/authx`). Userinfo, fragments, backslashes, control
characters, dot segments and escaped dots or slashes are refused outright, so no parser
disagreement can turn this into an open redirect.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_and_path(url: str) -> tuple[str, str, int, str] | None:
    if any(ch == "\\" or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None \
            or parts.password is not None or parts.fragment or "#" in url:
        return None
    path = parts.path or "/"
    if any(seg in (".", "..") for seg in path.split("/")) or any(
            esc in path.lower() for esc in ("%2e", "%2f", "%5c")):
        return None  # dot segments would climb out of the allowed path once resolved
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme], path


def redirect_allowed(url: str, allowed: Iterable[str]) -> bool:
    """True only if `url` falls under one of the `allowed` entries (see the module doc)."""
    candidate = _origin_and_path(url)
    if candidate is None:
        return False
    for entry in allowed:
        rule = _origin_and_path(entry)
        if rule is None or rule[:3] != candidate[:3]:
            continue
        prefix, path = rule[3], candidate[3]
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return True
    return False
