"""`python -m infra.reference.server (--weights PATH | --base) --model-name NAME [--host H]
[--port N]`: serve one replica of a reference model (see __init__.py for the contract)."""

import os

# One BLAS thread, set before numpy loads: for matrices this small, threads cost several times
# more than they give, and they would compete with the other replicas on the machine.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# The imports after the thread settings.
import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from types import FrameType  # noqa: E402

import uvicorn  # noqa: E402

from infra.heap import freeze_startup_heap  # noqa: E402
from infra.reference.model import BASE_MODEL, WeightsError, init_params, load  # noqa: E402
from infra.reference.server.app import Served, create_app  # noqa: E402

log = logging.getLogger("bitstride.reference.server")

# In-flight requests get this long to finish after SIGTERM (generating even 1024 tokens takes
# well under a second; the rest is for slow readers). Below the reference serving backend's
# 5 s grace before SIGKILL (infra/serving/reference.py), so a stop is normally a clean exit 0.
GRACEFUL_SHUTDOWN_SECONDS = 4
EXIT_USAGE = 2  # bad arguments or unusable weights: restarting will not help
EXIT_CANNOT_BIND = 3  # uvicorn's own startup-failure code


class _Server(uvicorn.Server):
    """uvicorn that announces its port on stdout once it accepts connections."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and sockets:
            port = sockets[0].getsockname()[1]
            print(json.dumps({"type": "listening", "port": port}), flush=True)


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.reference.server",
                                     description="Serve a reference model with OpenAI's API.")
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--weights", help="a weights file written by the reference trainer")
    weights.add_argument("--base", action="store_true",
                         help=f"serve the untrained base model ({BASE_MODEL})")
    parser.add_argument("--model-name", required=True, help="the model id clients ask for")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    arguments = parser.parse_args(argv)
    if not arguments.model_name:
        parser.error("--model-name must not be empty")
    return arguments


def _bind(host: str, port: int) -> socket.socket:
    """One listening address, so that `--port 0` means one port (uvicorn listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    arguments = _arguments(argv)
    stopping: list[int] = []

    def stop(signum: int, _: FrameType | None) -> None:
        # Before uvicorn runs: stop without serving. After it stops, uvicorn re-raises the
        # signal it handled to our handler, which must not kill the process (exit 0).
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    try:
        if arguments.base:
            params, created = init_params(0), int(time.time())
        else:
            params, created = load(arguments.weights), int(os.path.getmtime(arguments.weights))
    except WeightsError as error:
        log.error("%s", error)
        return EXIT_USAGE
    try:
        sock = _bind(arguments.host, arguments.port)
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", arguments.host, arguments.port, error)
        return EXIT_CANNOT_BIND
    if stopping:
        return 0
    log.info("serving %s (%d parameters) as %r on %s:%d", arguments.weights or BASE_MODEL,
             params.count(), arguments.model_name, arguments.host, sock.getsockname()[1])
    config = uvicorn.Config(create_app(Served(params, arguments.model_name, created)),
                            log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    server = _Server(config)
    freeze_startup_heap()  # a full collection took 17-32 ms every ~15 s under load before
    server.run(sockets=[sock])
    return 0 if server.started else EXIT_CANNOT_BIND


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
