"""The dataset validator: a process manager of the worker.

On `ValidationRequested` it streams the pinned version from storage through the validator and
records the report. It tracks its position only after recording, and recording is refused
for a version that is no longer being validated, so a repeat after a crash is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder

from application.datasets.ports import ChecksumMismatchError, ObjectStore, TokenCounter
from application.datasets.service import DatasetService
from domain.datasets.dataset import Dataset
from domain.datasets.status import DatasetStatus
from domain.datasets.validation import PlainChatDecoder, validate_lines
from domain.shared.cause import Cause

VALIDATOR = Cause(actor_id="dataset-validator", actor_kind="system")
# Issues kept in the recorded report (counts per code stay complete).
MAX_REPORTED_ISSUES = 200


class DatasetValidation:
    def __init__(self, datasets: DatasetService, store: ObjectStore,
                 tokens: Callable[[str | None], TokenCounter], recorder: TrackingRecorder, *,
                 plain_chat: PlainChatDecoder) -> None:
        self.datasets, self.store, self.tokens, self.recorder = datasets, store, tokens, recorder
        self.plain_chat = plain_chat  # the validator's fast path: same report, sooner

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, Dataset.ValidationRequested):
            self.validate(domain_event.originator_id, domain_event.version,
                          context_length=domain_event.context_length,
                          tokens=self.tokens(domain_event.tokenizer))
        self.recorder.insert_tracking(tracking)

    def validate(self, dataset_id: UUID, version: int, *, context_length: int | None,
                 tokens: TokenCounter) -> None:
        dataset = self.datasets.get_or_none(dataset_id)
        if not isinstance(dataset, Dataset) or dataset.status is not DatasetStatus.VALIDATING:
            return  # deleted meanwhile, or already recorded before a crash
        if dataset.current_version is None or dataset.current_version.number != version:
            return
        report = self._report(dataset, version, context_length, tokens)
        self.datasets.complete_validation(dataset_id, version=version,
                                          valid=bool(report["valid"]), report=report,
                                          cause=VALIDATOR)

    def _report(self, dataset: Dataset, version: int, context_length: int | None,
                tokens: TokenCounter) -> dict[str, Any]:
        stored = dataset.find_version(version)
        try:
            with self.store.open(stored.object_key) as lines:
                report = validate_lines(
                    lines, declared_format=dataset.data_format,
                    purpose="rl" if dataset.purpose == "rl" else "fine_tuning",
                    context_length=context_length, count_tokens=tokens.count,
                    token_estimate=tokens.estimated,
                    max_issues=MAX_REPORTED_ISSUES, plain_chat=self.plain_chat)
        except ChecksumMismatchError:
            return {"valid": False, "storage_error": "checksum_mismatch",
                    "message": "The stored file does not match its checksum; upload it again."}
        result: dict[str, Any] = report.to_dict()
        result["valid"] = report.valid
        result["tokenizer"] = tokens.name
        result["context_length"] = context_length
        return result
