"""The trainer's run: the job's steps, checkpoints and final weights, reported as JSON lines.

Protocol lines go to stdout (see protocol.py), a human-readable log to stderr, weights to the
job's output_dir: `checkpoint-step-NNNN.npz` every `checkpoint_every` steps and at the last,
then `model.npz`. SIGTERM lets the current step finish, then reports `cancelled` and exits 0,
as does an error the trainer can name (`failed`); anything else is a crash and exits non-zero.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from infra.reference.model import Params, WeightsError, init_params, load, save
from infra.reference.trainer import dpo, rl, supervised
from infra.reference.trainer.protocol import Job, TrainingError, emit
from infra.reference.trainer.training import Training

log = logging.getLogger("bitstride.reference.trainer")
STARTS: dict[str, Callable[[Job, Params, np.random.Generator], Training]] = {
    "supervised": supervised.start, "dpo": dpo.start, "rl": rl.start}


def main(argv: Sequence[str]) -> int:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    if len(argv) != 1:
        print("usage: python -m infra.reference.trainer JOB_FILE", file=sys.stderr)
        return 2
    job = Job.read(argv[0])
    try:
        train(job, stopping)
    except TrainingError as error:
        log.error("job %s failed (%s): %s", job.job_id, error.code, error.message)
        emit({"type": "failed", "code": error.code, "message": error.message})
    return 0


def _base_params(path: str | None) -> Params:
    if path is None:
        return init_params(0)
    try:
        return load(path)
    except WeightsError as error:
        raise TrainingError("invalid_base_weights", str(error)) from None


def train(job: Job, stopping: threading.Event) -> None:
    params = _base_params(job.base_weights)
    training = STARTS[job.method](job, params, np.random.default_rng(job.seed))
    output = Path(job.output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    emit({"type": "started", "total_steps": job.total_steps, "parameters": params.count()})
    log.info("job %s: %s training, %d steps", job.job_id, job.method, job.total_steps)
    trained_tokens = grader_calls = 0
    for number, step in zip(range(1, job.total_steps + 1), training.steps, strict=False):
        trained_tokens += step.tokens
        grader_calls += step.grader_calls
        metrics = {**step.metrics, "tokens": float(step.tokens)}
        checkpoint = number % job.checkpoint_every == 0 or number == job.total_steps
        if checkpoint:
            metrics |= training.evaluate()
        emit({"type": "metrics", "step": number, "metrics": metrics})
        log.info("step %d/%d %s", number, job.total_steps,
                 " ".join(f"{name}={value:.4g}" for name, value in metrics.items()))
        if checkpoint:
            path = output / f"checkpoint-step-{number:04d}.npz"
            save(params, path)
            emit({"type": "checkpoint", "step": number, "path": str(path), "metrics": metrics})
        if stopping.is_set():
            log.info("job %s: cancelled after step %d", job.job_id, number)
            emit({"type": "cancelled", "step": number})
            return
    save(params, output / "model.npz")
    log.info("job %s: succeeded, %d tokens trained", job.job_id, trained_tokens)
    emit({"type": "succeeded", "model_path": str(output / "model.npz"),
          "trained_tokens": trained_tokens, "grader_calls": grader_calls})

