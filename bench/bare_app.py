"""`python -m bench.bare_app PORT FILE`: the read path's ceiling. One Litestar handler that
returns FILE's JSON at GET /v1/projects (no auth, no query, no middleware), served by
`run_http`, the very function that serves `bitstride serve`: the same uvicorn settings.

GET /v1/projects/queried returns the same JSON after one `SELECT 1` on DATABASE_URL (an async
psycopg pool, no thread hop): what any handler that queries Postgres on every request can at
best reach beside the bare one."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from psycopg_pool import AsyncConnectionPool

from infra.eventstore import plain_postgres_url
from infra.settings import load_settings
from interfaces.cli.serving import run_http

POOL_SIZE = 32


def create_app(page: dict[str, Any], database_url: str) -> Litestar:
    pool = AsyncConnectionPool(plain_postgres_url(database_url), min_size=POOL_SIZE,
                               max_size=POOL_SIZE, open=False)

    @get("/v1/projects", sync_to_thread=False)
    def list_projects() -> dict[str, Any]:
        return page

    @get("/v1/projects/queried")
    async def list_projects_after_a_query() -> dict[str, Any]:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
        return page

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    async def open_pool() -> None:
        await pool.open(wait=True)

    async def close_pool() -> None:
        await pool.close()

    return Litestar([list_projects, list_projects_after_a_query, health],
                    on_startup=[open_pool], on_shutdown=[close_pool])


def main(port: int, page_file: Path) -> None:
    page = json.loads(page_file.read_text())
    run_http(create_app(page, os.environ["DATABASE_URL"]), "127.0.0.1", port, load_settings())


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
