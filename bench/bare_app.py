"""`python -m bench.bare_app PORT FILE`: the read path's ceiling. One Litestar handler that
returns FILE's JSON at GET /v1/projects (no auth, no query, no middleware), served by
`run_http`, the very function that serves `bitstride serve`: the same uvicorn settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from litestar import Litestar, get

from infra.settings import load_settings
from interfaces.cli.serving import run_http


def create_app(page: dict[str, Any]) -> Litestar:
    @get("/v1/projects", sync_to_thread=False)
    def list_projects() -> dict[str, Any]:
        return page

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar([list_projects, health])


def main(port: int, page_file: Path) -> None:
    page = json.loads(page_file.read_text())
    run_http(create_app(page), "127.0.0.1", port, load_settings())


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
