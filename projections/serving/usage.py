"""Which deployments serve a model: what, besides unfinished jobs, makes its deletion a 409.

Read from the deployments read model (every deployment that is not `stopped`: a failed one may
be started again, a stopping one still runs), shaped to the models' usage port by structure.
`ModelUsers` joins several such sources into the one port the Models application holds.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from sqlalchemy import select

from projections.serving.queries import DeploymentQueries


class ActiveDeployments:
    def __init__(self, queries: DeploymentQueries) -> None:
        self.queries = queries

    def users_of(self, model_id: UUID) -> list[str]:
        """Deployments serving the model, as public ids (`dep_…`)."""
        table = self.queries.deployments_table()
        query = select(table.c.id).where(table.c.model == f"model_{model_id.hex}",
                                         table.c.status != "stopped").order_by(table.c.seq)
        with self.queries.engine.connect() as conn:
            return [f"dep_{deployment_id}" for deployment_id in conn.execute(query).scalars()]


class UsersOf(Protocol):
    def users_of(self, model_id: UUID) -> list[str]: ...


class ModelUsers:
    """The users every source names, in the sources' order."""

    def __init__(self, *sources: UsersOf) -> None:
        self.sources = sources

    def users_of(self, model_id: UUID) -> list[str]:
        return [user for source in self.sources for user in source.users_of(model_id)]
