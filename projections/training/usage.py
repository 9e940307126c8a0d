"""Which unfinished jobs use a dataset or a model: what makes their deletion a 409.

Read from the jobs read model (the jobs of one organization that have not ended), shaped to
the datasets' and models' usage ports by structure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import select

from projections.training.queries import TrainingQueries

ENDED = ("succeeded", "failed", "cancelled")
PREFIX = {"fine_tuning": "ftjob", "rl": "rljob"}


class UnfinishedJobs:
    def __init__(self, queries: TrainingQueries) -> None:
        self.queries = queries

    def _unfinished(self, **where: str) -> Iterable[dict[str, Any]]:
        table = self.queries.jobs_table()
        query = select(table.c.id, table.c.kind, table.c.spec).where(
            table.c.status.not_in(ENDED), *(table.c[k] == v for k, v in where.items()))
        with self.queries.engine.connect() as conn:
            yield from (dict(row) for row in conn.execute(query).mappings())

    def users_of(self, model_id: UUID) -> list[str]:
        """Jobs training from the model (the models context's ModelUsage)."""
        rows = self._unfinished(model=f"model_{model_id.hex}")
        return [f"{PREFIX[row['kind']]}_{row['id']}" for row in rows]

    def users_of_dataset(self, org_id: UUID, dataset_id: UUID) -> list[str]:
        """Jobs whose training or validation file is a version of the dataset."""
        users = []
        for row in self._unfinished(org_id=org_id.hex):
            files = (row["spec"].get("training_file"), row["spec"].get("validation_file"))
            if any(f and f.get("dataset_id") == dataset_id.hex for f in files):
                users.append(f"{PREFIX[row['kind']]}_{row['id']}")
        return users
