"""The training job state machine: a transition table, not scattered ifs.

`validating_files → queued → running → succeeded | failed | cancelled`, with `cancelling`
between a cancel request on a running job and the executor's acknowledgement. Clients get
terminal states wrong (openai-node#2528), so `TERMINAL` is published explicitly.
"""

from __future__ import annotations

from enum import StrEnum

from domain.shared.transitions import TransitionTable


class JobStatus(StrEnum):
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = JobStatus

# action -> {state it is allowed in: state it leads to}. An action that keeps the state
# (progress, checkpoints) maps a state to itself.
TRANSITIONS: dict[str, dict[JobStatus, JobStatus]] = {
    "files_validated": {S.VALIDATING_FILES: S.QUEUED},
    "files_rejected": {S.VALIDATING_FILES: S.FAILED},
    "start": {S.QUEUED: S.RUNNING},
    "report": {S.RUNNING: S.RUNNING, S.CANCELLING: S.CANCELLING},
    "checkpoint": {S.RUNNING: S.RUNNING, S.CANCELLING: S.CANCELLING},
    # Success still wins while cancelling: see the race rule in domain/training/job.py.
    "succeed": {S.RUNNING: S.SUCCEEDED, S.CANCELLING: S.SUCCEEDED},
    # The scheduler may fail a queued job (it could not start it); executors fail running ones.
    "fail": {S.QUEUED: S.FAILED, S.RUNNING: S.FAILED, S.CANCELLING: S.FAILED},
    "cancel": {S.VALIDATING_FILES: S.CANCELLED, S.QUEUED: S.CANCELLED, S.RUNNING: S.CANCELLING},
    "acknowledge_cancel": {S.CANCELLING: S.CANCELLED},
}

TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})

# What a caller (a user over HTTP) may do; the rest belongs to the scheduler and executors.
CALLER_ACTIONS = ("cancel",)

# Executor reports: after a terminal state they are late news and are ignored, not refused.
EXECUTOR_REPORTS = frozenset({"report", "checkpoint", "succeed", "fail", "acknowledge_cancel"})


MACHINE = TransitionTable(TRANSITIONS, CALLER_ACTIONS)
allowed_actions = MACHINE.allowed_actions  # what the job object's `allowed_actions` shows
target = MACHINE.target
