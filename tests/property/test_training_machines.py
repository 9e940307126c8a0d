"""Random commands and executor reports on a TrainingJob never reach an impossible state.

The executor model numbers its reports 1, 2, 3 ... with steps that never go back; the
network then delivers any of them, any number of times, in any order, also after the job
ended. Invariants: the status is one the table knows; terminal stays terminal with its
outcome unchanged; the step never goes backwards; every refused command raised a domain
error; replaying the collected events rebuilds an equal job, and so does its snapshot
after a trip through the store's JSON. Run for both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from application.training.service import TrainingService
from domain.shared.cause import SYSTEM
from domain.shared.errors import InvalidStateTransitionError
from domain.training.job import TrainingJob
from domain.training.status import TERMINAL, TRANSITIONS, JobStatus, allowed_actions
from tests.unit.training.factories import new_job, replayed, state

# The Training application's own mapper (JSON with its transcodings), held in memory.
STORE = TrainingService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
REPORT_KINDS = ["report", "report", "report", "checkpoint", "succeed", "fail",
                "acknowledge_cancel"]


@dataclass(frozen=True)
class Report:
    action: str
    seq: int
    step: int


def deliver(job: TrainingJob, report: Report) -> bool:
    seq, step, at = report.seq, report.step, float(report.seq)
    if report.action == "report":
        return job.report(seq=seq, step=step, metrics={"loss": 1 / (1 + step)}, at=at,
                          cause=SYSTEM)
    if report.action == "checkpoint":
        return job.checkpoint(seq=seq, step=step, metrics={"loss": 0.5}, file_key=f"c/{seq}",
                              at=at, cause=SYSTEM)
    if report.action == "succeed":
        return job.succeed(seq=seq, fine_tuned_model=f"ft:m:{seq}", trained_tokens=step * 10,
                           result_files=[f"r/{seq}"], at=at, cause=SYSTEM)
    if report.action == "fail":
        return job.fail(seq=seq, error={"code": "trainer_error", "message": f"#{seq}"}, at=at,
                        cause=SYSTEM)
    return job.acknowledge_cancel(seq=seq, at=at, cause=SYSTEM)


def typed(fields: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    """Equal values of another type (a str for a str-enum, a list for a tuple) differ here."""
    return {key: (type(value), value) for key, value in fields.items()}


class JobMachine(RuleBasedStateMachine):
    kind = "fine_tuning"

    @initialize()
    def create(self) -> None:
        self.job = new_job(self.kind)
        self.events: list[Any] = self.job.collect_events()
        self.sent: list[Report] = []
        self.last_step = 0
        self.previous = state(self.job)

    def _attempt(self, action: str, command: Any) -> None:
        status = self.job.status
        if status in TRANSITIONS[action]:
            command()
            assert self.job.status is TRANSITIONS[action][status]
        else:
            with pytest.raises(InvalidStateTransitionError) as raised:
                command()
            assert raised.value.allowed_actions == allowed_actions(status)
            assert self.job.status is status
        self.events += self.job.collect_events()

    @rule()
    def files_validated(self) -> None:
        self._attempt("files_validated", lambda: self.job.files_validated(cause=SYSTEM))

    @rule()
    def files_rejected(self) -> None:
        self._attempt("files_rejected", lambda: self.job.files_rejected(
            error={"code": "invalid_file", "message": "bad"}, at=1.0, cause=SYSTEM))

    @rule(total=st.integers(1, 100))
    def start(self, total: int) -> None:
        self._attempt("start", lambda: self.job.start(
            executor_id="e", total_steps=total,
            resolved_hyperparameters=self.job.spec.resolved_hyperparameters, at=2.0,
            cause=SYSTEM))

    @rule()
    def cancel(self) -> None:
        self._attempt("cancel", lambda: self.job.request_cancel(at=3.0, cause=SYSTEM))

    @rule(action=st.sampled_from(REPORT_KINDS), advance=st.integers(0, 5))
    def executor_sends(self, action: str, advance: int) -> None:
        """The executor emits its next report; it is in flight until delivered."""
        self.last_step += advance
        self.sent.append(Report(action, len(self.sent) + 1, self.last_step))

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def network_delivers(self, data: st.DataObject) -> None:
        """Any report sent so far: again, out of order, or after the job ended."""
        report = data.draw(st.sampled_from(self.sent))
        status, last_seq = self.job.status, self.job.last_seq
        stale = status in TERMINAL or report.seq <= last_seq
        if stale or status in TRANSITIONS[report.action]:
            applied = deliver(self.job, report)
            assert applied is not stale
        else:
            with pytest.raises(InvalidStateTransitionError):
                deliver(self.job, report)
            assert self.job.status is status
        new_events = self.job.collect_events()
        if stale:
            assert new_events == [], "a stale or late report recorded an event"
        self.events += new_events

    @rule()
    def scheduler_fails(self) -> None:
        status = self.job.status
        if status in TERMINAL:
            assert not self.job.fail(seq=None, error={"code": "executor_lost", "message": "x"},
                                     at=4.0, cause=SYSTEM)
        else:
            self._attempt("fail", lambda: self.job.fail(
                seq=None, error={"code": "executor_lost", "message": "x"}, at=4.0,
                cause=SYSTEM))
        self.events += self.job.collect_events()

    @invariant()
    def terminal_stays_terminal_and_step_never_goes_back(self) -> None:
        now, before = state(self.job), self.previous
        assert self.job.status in set(JobStatus)
        if before["status"] in TERMINAL:
            assert now == before, "a terminal job changed"
        assert now["step"] >= before["step"]
        assert now["last_seq"] >= before["last_seq"]
        assert self.job.allowed_actions == allowed_actions(self.job.status)
        if self.job.status is JobStatus.SUCCEEDED:
            assert self.job.fine_tuned_model is not None
        self.previous = now

    @invariant()
    def replay_rebuilds_an_equal_job(self) -> None:
        rebuilt = replayed(self.events)
        assert rebuilt.version == self.job.version == len(self.events)
        assert state(rebuilt) == state(self.job)

    @invariant()
    def a_stored_snapshot_restores_an_equal_job(self) -> None:
        if not self.events:
            return
        stored = STORE.mapper.to_stored_event(TrainingJob.Snapshot.take(replayed(self.events)))
        restored = STORE.mapper.to_domain_event(stored).mutate(None)
        assert typed(state(restored)) == typed(state(self.job))


class RlJobMachine(JobMachine):
    kind = "rl"


MACHINE_SETTINGS = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestFineTuningJobMachine = JobMachine.TestCase
TestFineTuningJobMachine.settings = MACHINE_SETTINGS
TestRlJobMachine = RlJobMachine.TestCase
TestRlJobMachine.settings = MACHINE_SETTINGS
