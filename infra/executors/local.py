"""The local executor: one reference-trainer subprocess per job, followed through files.

The trainer (`python -m infra.reference.trainer job.json`, infra/reference/) prints one JSON
line per report on its stdout, which goes to a file in the run's workspace; a
follower thread reads that file and turns line N into an executor command with `seq` N, once
the scheduler has recorded the job's start (infra/executors/start_gate.py).
Because the reports live in a file and the trainer runs in a session of its own, a worker
killed and restarted re-attaches: it follows the same file again from line 1, the job drops
every report it already applied (their `seq` is not new), and the run carries on. A run whose
process died without a last word (`succeeded`, `failed`, `cancelled`) fails with
`trainer_crashed`; one that is gone altogether is not re-attached, and the scheduler fails it
with `executor_lost` after the heartbeat timeout.

Checkpoints and the trained weights are uploaded to the object store; the log (stderr) and the
reports are kept as the job's result files. Stop is SIGTERM (the trainer finishes its step and
says `cancelled`), then SIGKILL after a grace period. A graceful worker shutdown leaves runs
going, to be re-attached by the next worker.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog

from application.datasets.ports import ObjectStore, StorageError
from application.datasets.service import DatasetService
from application.training.ports import ExecutorJob, ExecutorRefusedError
from application.training.service import TrainingService
from domain.datasets.dataset import Dataset
from domain.shared.cause import Cause
from domain.shared.errors import DomainError
from domain.training.job import TrainingJob
from domain.training.status import JobStatus
from infra.executors.start_gate import recorded_start
from infra.executors.workspace import Workspace, file_chunks
from infra.storage.uri import object_key, object_uri

log = structlog.get_logger("bitstride.executor.local")
EXECUTOR = Cause(actor_id="local-executor", actor_kind="system")
REFERENCE_BASE = "reference-byte-lm"
TRAINER = (sys.executable, "-m", "infra.reference.trainer")
MAX_OBJECT_BYTES = 4 * 1024**3
CHECKPOINT_EVERY_FRACTION = 4  # about four checkpoints per run, the last at the end
TERMINAL_LINES = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class Run:
    job: ExecutorJob
    workspace: Workspace
    process: subprocess.Popen[bytes] | None  # None when re-attached to an earlier process
    last_seen: float = field(default_factory=time.monotonic)
    stopping: bool = False

    def exited(self) -> bool:
        if self.process is not None:
            return self.process.poll() is not None
        return self.workspace.pid() is None


class LocalExecutor:
    """`Executor` running the reference trainer as local subprocesses."""

    def __init__(self, training: TrainingService, datasets: DatasetService, store: ObjectStore,
                 *, work_dir: Path, trainer: Sequence[str] = TRAINER,
                 poll_seconds: float = 0.05, stop_grace_seconds: float = 10.0) -> None:
        self.training, self.datasets, self.store = training, datasets, store
        self.work_dir, self.trainer = work_dir, tuple(trainer)
        self.poll_seconds, self.stop_grace_seconds = poll_seconds, stop_grace_seconds
        self._runs: dict[UUID, Run] = {}
        self._lock = threading.Lock()

    @staticmethod
    def executor_id(job_id: UUID) -> str:
        return f"local-{job_id.hex}"

    # -- the Executor port ------------------------------------------------------------------

    def start(self, job: ExecutorJob) -> str:
        with self._lock:
            if job.job_id not in self._runs and not self._attach(job):
                self._launch(job)
        return self.executor_id(job.job_id)

    def attach(self, job: ExecutorJob) -> bool:
        with self._lock:
            return job.job_id in self._runs or self._attach(job)

    def heartbeat(self, job_id: UUID) -> float | None:
        with self._lock:
            run = self._runs.get(job_id)
        return None if run is None else time.monotonic() - run.last_seen

    def stop(self, job_id: UUID) -> None:
        with self._lock:
            run = self._runs.get(job_id)
        if run is not None and not run.exited():
            run.stopping = True
            run.workspace.signal(signal.SIGTERM)
            timer = threading.Timer(self.stop_grace_seconds, run.workspace.signal,
                                    args=(signal.SIGKILL,))
            timer.daemon = True
            timer.start()
            return
        if run is None:  # no run (a lost one leaves only files): confirm the stop ourselves
            self._workspace(job_id).remove()
            current = self.training.get_or_none(job_id)
            if isinstance(current, TrainingJob) and current.status is JobStatus.CANCELLING:
                self._quietly(lambda: self.training.acknowledge_cancel(
                    job_id, seq=current.last_seq + 1, at=time.time(), cause=EXECUTOR))

    # -- launching --------------------------------------------------------------------------

    def _workspace(self, job_id: UUID) -> Workspace:
        return Workspace(self.work_dir / job_id.hex)

    def _attach(self, job: ExecutorJob) -> bool:
        """Follow a run an earlier worker launched, if its process or its outcome is there."""
        workspace = self._workspace(job.job_id)
        if not workspace.exists() or (workspace.pid() is None
                                      and not _has_last_word(workspace.progress)):
            return False
        log.info("training_run_reattached", job_id=job.job_id.hex)
        self._follow(Run(job, workspace, process=None))
        return True

    def _launch(self, job: ExecutorJob) -> None:
        if job.base_name != REFERENCE_BASE:
            raise ExecutorRefusedError(
                "unsupported_model",
                f"The local executor runs the reference trainer, which trains only "
                f"'{REFERENCE_BASE}' and models fine-tuned from it, not {job.base_name!r}.")
        workspace = self._workspace(job.job_id)
        workspace.prepare()
        try:
            inputs = self._inputs(job, workspace)
        except StorageError as error:
            workspace.remove()
            raise ExecutorRefusedError("invalid_file", f"A job file is unreadable: {error}") \
                from None
        except ExecutorRefusedError:
            workspace.remove()
            raise
        steps = job.total_steps
        workspace.write_job({
            "job_id": job.job_id.hex, "method": job.method, **inputs,
            "hyperparameters": job.hyperparameters,
            "rl": None if job.method != "rl" else {
                "grader": job.spec["grader"],
                "rollouts_per_prompt": job.spec["rollouts_per_prompt"],
                "kl_beta": job.spec["kl_beta"], "sampling": job.spec["sampling"]},
            "seed": job.seed, "total_steps": steps,
            "checkpoint_every": max(steps // CHECKPOINT_EVERY_FRACTION, 1),
            "output_dir": str(workspace.output)})
        process = workspace.launch([*self.trainer, str(workspace.job_file)])
        log.info("training_run_started", job_id=job.job_id.hex, pid=process.pid,
                 method=job.method, total_steps=steps)
        self._follow(Run(job, workspace, process))

    def _inputs(self, job: ExecutorJob, workspace: Workspace) -> dict[str, str | None]:
        validation = None
        if job.validation_file is not None:
            validation = str(self._copy_dataset(job.validation_file, workspace,
                                                "validation.jsonl"))
        base = None
        if job.weights_uri is not None:
            key = object_key(job.weights_uri)
            if key is None:
                raise ExecutorRefusedError(
                    "unsupported_model", "The local executor reads weights only from "
                    f"Bitstride's object store, not {job.weights_uri!r}.")
            base = str(workspace.copy_in("base.npz", self.store.open(key)))
        return {"training_file": str(self._copy_dataset(job.training_file, workspace,
                                                        "training.jsonl")),
                "validation_file": validation, "base_weights": base}

    def _copy_dataset(self, pinned: tuple[UUID, int], workspace: Workspace, name: str) -> Path:
        dataset_id, version = pinned
        dataset = self.datasets.get_or_none(dataset_id)
        if not isinstance(dataset, Dataset):
            raise ExecutorRefusedError("invalid_file", "The job's dataset no longer exists.")
        return workspace.copy_in(name, self.store.open(dataset.find_version(version).object_key))

    # -- following --------------------------------------------------------------------------

    def _follow(self, run: Run) -> None:
        self._runs[run.job.job_id] = run
        threading.Thread(target=self._follow_run, args=(run,), daemon=True,
                         name=f"local-run-{run.job.job_id.hex[:8]}").start()

    def _follow_run(self, run: Run) -> None:
        job_id = run.job.job_id
        try:
            if recorded_start(self.training, job_id) is None:
                self._abandon(run)
                return
            seq, last_word = self._read_reports(run)
            if last_word is None:
                self._crashed(run, seq + 1)
        except Exception as error:  # a broken follower fails its job, never the worker
            log.exception("training_run_follow_failed", job_id=job_id.hex)
            problem = {"code": "executor_error",
                       "message": f"Following the trainer failed: {type(error).__name__}."}
            self._quietly(lambda: self.training.fail(job_id, seq=None, error=problem,
                                                     at=time.time(), cause=EXECUTOR))
        finally:
            if run.process is not None:
                run.process.wait()
            with self._lock:
                self._runs.pop(job_id, None)
            run.workspace.remove()

    @staticmethod
    def _abandon(run: Run) -> None:
        """The job will never show this run's start: its reports would all be refused."""
        log.warning("training_run_abandoned", job_id=run.job.job_id.hex,
                    reason="the job's start was not recorded")
        run.workspace.signal(signal.SIGKILL)

    def _read_reports(self, run: Run) -> tuple[int, str | None]:
        """Apply every line as it is written; returns the last seq and the last word.

        Lines the job already applied (a re-attached run's past) are skipped unread."""
        current = self.training.get_or_none(run.job.job_id)
        applied = current.last_seq if isinstance(current, TrainingJob) else 0
        seq, exited = 0, False
        with run.workspace.progress.open("rb") as progress:
            while True:
                line = progress.readline()
                if line.endswith(b"\n"):
                    seq += 1
                    run.last_seen = time.monotonic()
                    report = json.loads(line)
                    if seq > applied:
                        self._apply(run, seq, report)
                    if report.get("type") in TERMINAL_LINES:
                        return seq, report["type"]
                    continue
                progress.seek(-len(line), 1)  # a line still being written: reread it whole
                if exited:  # everything written before the exit has been read
                    return seq, None
                exited = run.exited()
                if not exited:
                    time.sleep(self.poll_seconds)

    def _apply(self, run: Run, seq: int, report: dict[str, Any]) -> None:
        job_id, kind, now = run.job.job_id, report.get("type"), time.time()
        if kind == "metrics":
            self._quietly(lambda: self.training.report(
                job_id, seq=seq, step=report["step"], metrics=report["metrics"], at=now,
                cause=EXECUTOR))
        elif kind == "checkpoint":
            key = self._upload(run, Path(report["path"]), "checkpoints")
            self._quietly(lambda: self.training.checkpoint(
                job_id, seq=seq, step=report["step"], metrics=report.get("metrics", {}),
                file_key=key, at=now, cause=EXECUTOR))
        elif kind == "succeeded":
            self._succeeded(run, seq, report)
        elif kind == "failed":
            self._quietly(lambda: self.training.fail(
                job_id, seq=seq, error={"code": report["code"], "message": report["message"]},
                at=now, cause=EXECUTOR))
        elif kind == "cancelled":
            self._quietly(lambda: self.training.acknowledge_cancel(
                job_id, seq=seq, at=now, cause=EXECUTOR))

    def _succeeded(self, run: Run, seq: int, report: dict[str, Any]) -> None:
        if run.process is not None:
            run.process.wait(timeout=30)  # its log is complete once it has exited
        weights = self._upload(run, Path(report["model_path"]), "models")
        results = [self._upload(run, run.workspace.log, "results"),
                   self._upload(run, run.workspace.progress, "results")]
        self._quietly(lambda: self.training.succeed(
            run.job.job_id, seq=seq, fine_tuned_model=run.job.output_model,
            trained_tokens=int(report["trained_tokens"]), result_files=results,
            weights_uri=object_uri(weights), grader_calls=int(report.get("grader_calls", 0)),
            at=time.time(), cause=EXECUTOR))

    def _crashed(self, run: Run, seq: int) -> None:
        """The process ended without a last word: killed while stopping, or crashed."""
        if run.stopping:
            self._quietly(lambda: self.training.acknowledge_cancel(
                run.job.job_id, seq=seq, at=time.time(), cause=EXECUTOR))
            return
        code = run.process.returncode if run.process is not None else None
        tail = run.workspace.last_line()
        log.error("training_run_crashed", job_id=run.job.job_id.hex, exit_code=code,
                  last_log_line=tail)
        self._quietly(lambda: self.training.fail(run.job.job_id, seq=seq, error={
            "code": "trainer_crashed",
            "message": f"The trainer exited (code {code}) without finishing: {tail}"},
            at=time.time(), cause=EXECUTOR))

    def _upload(self, run: Run, path: Path, kind: str) -> str:
        stored = self.store.put_stream(f"training/{run.job.job_id.hex}/{kind}",
                                       file_chunks(path), max_bytes=MAX_OBJECT_BYTES)
        return stored.key

    @staticmethod
    def _quietly(command: Callable[[], object]) -> None:
        """A report the job refuses (say, it was already failed) is logged, not fatal."""
        try:
            command()
        except DomainError as error:
            log.warning("training_report_refused", reason=str(error))


def _has_last_word(progress: Path) -> bool:
    with contextlib.suppress(OSError, ValueError), progress.open("rb") as lines:
        for line in lines:
            if line.endswith(b"\n") and json.loads(line).get("type") in TERMINAL_LINES:
                return True
    return False
