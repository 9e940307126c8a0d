"""The reference serving backend: one `python -m infra.reference.server` process per replica.

It serves `reference-byte-lm` and the models trained from it (infra/reference/) over the
OpenAI protocol, for development and tests. Each replica has a directory under the work dir
(`<replica id>/`: its weights, `pid`, stdout with the `{"type": "listening", "port": N}` line,
stderr as its log), and the process runs in a session of its own, so a replica outlives a
worker killed with `kill -9` and the next worker's probes find it ready where it was.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import httpx

from application.datasets.ports import ObjectStore, StorageError
from application.serving.backend import (
    BackendRefusedError,
    ProbeState,
    ReplicaProbe,
    ReplicaSpec,
)
from infra.processes import ProcessDir
from infra.storage.uri import object_key

REFERENCE_BASE = "reference-byte-lm"
SERVER = (sys.executable, "-m", "infra.reference.server")
HEALTH_TIMEOUT_SECONDS = 1.0
STOP_GRACE_SECONDS = 5.0


class ReferenceBackend:
    def __init__(self, store: ObjectStore, *, work_dir: Path) -> None:
        self.store, self.work_dir = store, work_dir
        self._http = httpx.Client(timeout=HEALTH_TIMEOUT_SECONDS)

    def _dir(self, replica_id: str) -> ProcessDir:
        return ProcessDir(self.work_dir / replica_id)

    def start(self, replica: ReplicaSpec) -> None:
        directory = self._dir(replica.replica_id)
        if directory.pid() is not None:
            return  # already running: starting is idempotent
        if replica.base_name != REFERENCE_BASE:
            raise BackendRefusedError(
                "unsupported_model", f"The reference backend serves only '{REFERENCE_BASE}' "
                f"and models trained from it, not {replica.model_name!r}.")
        directory.prepare()
        weights = ["--base"]
        if replica.weights_uri is not None:
            key = object_key(replica.weights_uri)
            if key is None:
                directory.remove()
                raise BackendRefusedError(
                    "unsupported_model", "The reference backend reads weights only from "
                    f"Bitstride's object store, not {replica.weights_uri!r}.")
            try:
                path = directory.copy_in("weights.npz", self.store.open(key))
            except StorageError as error:
                directory.remove()
                raise BackendRefusedError("weights_unavailable", str(error)) from None
            weights = ["--weights", str(path)]
        directory.launch([*SERVER, *weights, "--model-name", replica.model_name,
                          "--host", "127.0.0.1", "--port", "0"])

    def probe(self, replica_id: str) -> ReplicaProbe:
        directory = self._dir(replica_id)
        if not directory.exists():
            return ReplicaProbe(ProbeState.GONE)
        if directory.pid() is None:
            return ReplicaProbe(ProbeState.FAILED, reason=(
                f"The replica's process exited: {directory.last_line()}"))
        port = _listening_port(directory)
        if port is None:
            return ReplicaProbe(ProbeState.STARTING)
        base = f"http://127.0.0.1:{port}"
        try:
            healthy = self._http.get(f"{base}/health").status_code == 200
        except httpx.HTTPError:
            healthy = False
        return ReplicaProbe(ProbeState.READY, url=f"{base}/v1") if healthy \
            else ReplicaProbe(ProbeState.STARTING)

    def stop(self, replica_id: str) -> None:
        directory = self._dir(replica_id)
        if directory.signal(signal.SIGTERM):
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while directory.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            directory.signal(signal.SIGKILL)
        directory.remove()


def _listening_port(directory: ProcessDir) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in directory.stdout.read_text().splitlines():
            message = json.loads(line)
            if message.get("type") == "listening":
                return int(message["port"])
    return None
