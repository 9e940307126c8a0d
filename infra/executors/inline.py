"""The inline executor: runs each job in a background thread of the worker. IT TRAINS NOTHING.

No model is loaded and no weight changes. What it does is measured and reported honestly:
it reads the job's pinned training file from the object store, counts its examples (non-blank
JSONL lines) and estimates their tokens (bytes / 4), then walks the job's steps (examples x
epochs / batch size), reporting `examples_seen` and `tokens_seen` with increasing `seq`, and
succeeds with `trained_tokens` = tokens x epochs and the job's `fine_tuned_model` name, but
with no weights, so no model is registered. No loss is reported because none is computed. It
exists to exercise the scheduler and the job lifecycle quickly; the `local` executor runs the
real reference trainer.

Runs live in this process only: after a worker restart they cannot be re-attached, and the
scheduler fails them with `executor_lost` once the heartbeat timeout passes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

import structlog

from application.datasets.ports import ObjectStore
from application.datasets.service import DatasetService
from application.training.ports import ExecutorJob
from application.training.service import TrainingService
from domain.datasets.dataset import Dataset
from domain.shared.cause import Cause
from domain.shared.errors import DomainError
from domain.training.job import TrainingJob
from domain.training.status import TERMINAL, JobStatus
from infra.executors.start_gate import recorded_start

log = structlog.get_logger("bitstride.executor.inline")
EXECUTOR = Cause(actor_id="inline-executor", actor_kind="system")
BYTES_PER_TOKEN = 4
MAX_PROGRESS_REPORTS = 10


@dataclass(frozen=True)
class Measured:
    examples: int
    tokens: int


def measure(store: ObjectStore, key: str) -> Measured:
    """Examples (non-blank lines) and a token estimate (their bytes / 4) of a JSONL file."""
    examples = tokens = 0
    with store.open(key) as lines:
        for line in lines:
            stripped = line.strip()
            if stripped:
                examples += 1
                tokens += max(len(stripped) // BYTES_PER_TOKEN, 1)
    return Measured(examples, tokens)


@dataclass
class Run:
    job: ExecutorJob
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    last_seen: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class InlineExecutor:
    """`Executor` whose runs are threads of this process."""

    def __init__(self, training: TrainingService, datasets: DatasetService,
                 store: ObjectStore) -> None:
        self.training, self.datasets, self.store = training, datasets, store
        self._runs: dict[UUID, Run] = {}
        self._lock = threading.Lock()

    @staticmethod
    def executor_id(job_id: UUID) -> str:
        return f"inline-{job_id.hex}"

    def start(self, job: ExecutorJob) -> str:
        with self._lock:
            run = self._runs.get(job.job_id)
            if run is None or run.thread is None or not run.thread.is_alive():
                run = Run(job)
                run.thread = threading.Thread(target=self._run, args=(run,), daemon=True,
                                              name=f"inline-executor-{job.job_id.hex[:8]}")
                self._runs[job.job_id] = run
                run.thread.start()
        return self.executor_id(job.job_id)

    def attach(self, job: ExecutorJob) -> bool:
        """Only runs of this process can be followed: threads die with their worker."""
        with self._lock:
            run = self._runs.get(job.job_id)
        return run is not None and run.alive()

    def heartbeat(self, job_id: UUID) -> float | None:
        with self._lock:
            run = self._runs.get(job_id)
        return time.monotonic() - run.last_seen if run is not None and run.alive() else None

    def stop(self, job_id: UUID) -> None:
        with self._lock:
            run = self._runs.get(job_id)
        if run is not None and run.alive():
            run.stop.set()
            return
        # No live run here (finished, or forgotten by a restart): confirm the stop ourselves.
        job = self.training.get_or_none(job_id)
        if isinstance(job, TrainingJob) and job.status is JobStatus.CANCELLING:
            self._quietly(lambda: self.training.acknowledge_cancel(
                job_id, seq=job.last_seq + 1, at=time.time(), cause=EXECUTOR))

    # -- a run ------------------------------------------------------------------------------

    def _run(self, run: Run) -> None:
        job_id = run.job.job_id
        try:
            measured = self._measure(run.job)
            job = recorded_start(self.training, job_id, stop=run.stop)
            if job is None:
                return
            self._walk(run, job, measured)
        except Exception as error:  # a broken run fails its job, never the worker
            log.exception("inline_run_failed", job_id=job_id.hex)
            message = f"The inline executor failed: {type(error).__name__}."
            current = self.training.get_or_none(job_id)
            if isinstance(current, TrainingJob) and current.status not in TERMINAL:
                self._quietly(lambda: self.training.fail(
                    job_id, seq=current.last_seq + 1,
                    error={"code": "executor_error",
                           "message": message},
                    at=time.time(), cause=EXECUTOR))

    def _measure(self, job: ExecutorJob) -> Measured:
        dataset_id, version = job.training_file
        dataset = self.datasets.get_or_none(dataset_id)
        if not isinstance(dataset, Dataset):
            raise LookupError("The training file's dataset is gone.")
        return measure(self.store, dataset.find_version(version).object_key)

    def _walk(self, run: Run, job: TrainingJob, measured: Measured) -> None:
        job_id = run.job.job_id
        epochs = int(run.job.hyperparameters.get("n_epochs", 1))
        batch = max(int(run.job.hyperparameters.get("batch_size", 1)), 1)
        steps = job.total_steps or run.job.total_steps
        every = max(steps // MAX_PROGRESS_REPORTS, 1)
        seq = job.last_seq
        for step in range(1, steps + 1):
            if run.stop.is_set():
                seq += 1
                self.training.acknowledge_cancel(job_id, seq=seq, at=time.time(),
                                                 cause=EXECUTOR)
                return
            if step % every and step != steps:
                continue
            seen = min(step * batch, measured.examples * epochs)
            seq += 1
            run.last_seen = time.monotonic()
            self.training.report(job_id, seq=seq, step=step, metrics={
                "examples_seen": seen,
                "tokens_seen": seen * measured.tokens // max(measured.examples, 1)},
                at=time.time(), cause=EXECUTOR)
        seq += 1
        self.training.succeed(job_id, seq=seq,
                              fine_tuned_model=run.job.output_model,
                              trained_tokens=measured.tokens * epochs, result_files=[],
                              at=time.time(), cause=EXECUTOR)

    @staticmethod
    def _quietly(command: Callable[[], object]) -> None:
        with contextlib.suppress(DomainError):
            command()
