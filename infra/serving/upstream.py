"""The upstream serving backend: an OpenAI-compatible server Bitstride does not run.

vLLM, a llama.cpp server, SGLang and the like, at the deployment's `upstream_url`. A
"replica" here is that endpoint as seen by the controller: starting it runs nothing, and it
is ready once `GET <url>/models` answers 200 (vLLM's `/health` answers 200 even while its
engine is wedged; listing models exercises the API itself). The controller's ready timeout
turns an endpoint that never answers into a failed replica, and repeated failures into a
failed deployment.
"""

from __future__ import annotations

import threading

import httpx

from application.serving.backend import ProbeState, ReplicaProbe, ReplicaSpec

HEALTH_TIMEOUT_SECONDS = 2.0


class UpstreamBackend:
    def __init__(self) -> None:
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=HEALTH_TIMEOUT_SECONDS)

    def start(self, replica: ReplicaSpec) -> None:
        if replica.upstream_url is None:
            raise ValueError("An upstream deployment has an upstream_url (checked at create).")
        with self._lock:
            self._urls[replica.replica_id] = replica.upstream_url.rstrip("/")

    def probe(self, replica_id: str) -> ReplicaProbe:
        with self._lock:
            url = self._urls.get(replica_id)
        if url is None:
            return ReplicaProbe(ProbeState.GONE)
        try:
            answer = self._http.get(f"{url}/models")
        except httpx.HTTPError:
            return ReplicaProbe(ProbeState.STARTING)
        return ReplicaProbe(ProbeState.READY, url=url) if answer.status_code == 200 \
            else ReplicaProbe(ProbeState.STARTING)

    def stop(self, replica_id: str) -> None:
        with self._lock:
            self._urls.pop(replica_id, None)
