"""A Postgres server of the benchmark's own: the installed version, initdb's defaults, more
connections. The production shape holds about 85 idle connections (the worker ~53, the API
~27, the auth service 3) and pgbench adds 32 beside it: past the default max_connections of
100, and other users of a shared server need theirs too. Stopped and removed afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.processes import free_port

MAX_CONNECTIONS = 300


def _binaries() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda path: int(path.parent.parent.name))
    if not versions:
        raise SystemExit("bench: no PostgreSQL server binaries under /usr/lib/postgresql")
    return versions[-1].parent


def _as_owner(command: list[str]) -> list[str]:
    """Postgres refuses to run as root: run it as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivatePostgres:
    def __init__(self, workdir: Path) -> None:
        self.directory = workdir / "postgres"
        self.port = free_port()
        self.bin = _binaries()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run(_as_owner(list(command)), check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self) -> str:
        self.directory.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.directory.parent, "postgres")
            shutil.chown(self.directory, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.directory), "-U", "postgres",
                  "--auth=trust", "--no-sync")
        self.launch()
        return self.url

    def launch(self) -> None:
        """Start the server on its data directory and port (again, after `stop`)."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.directory} "
                   f"-c max_connections={MAX_CONNECTIONS}")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory), "-o", options,
                  "-l", str(self.directory / "server.log"), "-w", "start")

    def pid(self) -> int:
        """The postmaster's pid: its backends are its children."""
        return int((self.directory / "postmaster.pid").read_text().split()[0])

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends sessions and checkpoints; `immediate` is a crash (recovery at start)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory), "-m", mode, "-w",
                  "stop")
