"""What a succeeded job leaves behind: its model, registered with lineage, and its usage.

The model is registered by `TrainingService.succeed` before the success is saved, so a job
reads `succeeded` only once its `fine_tuned_model` can be deployed. The usage is recorded by
the scheduler from the job's Succeeded event. Both are idempotent by the job's id: a success
retried after a crash registers one model and bills the tokens once. Only succeeded jobs are
billed; a failed or cancelled run costs the organization nothing.
"""

from __future__ import annotations

from application.training.ports import OutputModel, UsageLedger
from application.usage.service import NewUsage
from domain.shared.cause import Cause
from domain.shared.ids import format_id
from domain.training.job import TrainingJob
from domain.training.specs import FineTuningSpec
from domain.usage.record import Meter, SourceKind


def output_model(job: TrainingJob, base_model_id: str) -> OutputModel | None:
    if job.fine_tuned_model is None or job.weights_uri is None:
        return None  # an executor that produced no servable weights registers nothing
    files = [job.spec.training_file]
    if isinstance(job.spec, FineTuningSpec) and job.spec.validation_file is not None:
        files.append(job.spec.validation_file)
    return OutputModel(
        org_id=job.org_id, name=job.fine_tuned_model, base_model_id=base_model_id,
        weights_uri=job.weights_uri, job_id=public_job_id(job),
        dataset_versions=tuple((file.dataset_id, file.version) for file in files))


def public_job_id(job: TrainingJob) -> str:
    return format_id("ftjob" if job.kind == "fine_tuning" else "rljob", job.id)


def job_usage(job: TrainingJob) -> list[NewUsage]:
    """The meters a finished job is billed on: trained tokens, and an RL job's grader calls."""
    tokens = Meter.FINE_TUNING_TRAINED_TOKENS if job.kind == "fine_tuning" \
        else Meter.RL_TRAINED_TOKENS
    quantities = {tokens: job.trained_tokens or 0}
    if job.kind == "rl":
        quantities[Meter.RL_GRADER_CALLS] = job.grader_calls
    return [NewUsage(source_kind=SourceKind.JOB.value, source_id=public_job_id(job),
                     meter=meter.value, quantity=quantity, org_id=job.org_id,
                     project_id=job.project_id, occurred_at=job.finished_at or 0.0,
                     model=job.model)
            for meter, quantity in quantities.items()]


def bill(job: TrainingJob, *, usage: UsageLedger, cause: Cause) -> None:
    usage.record(job_usage(job), cause=cause)
