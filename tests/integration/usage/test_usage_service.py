"""UsageService on the in-memory, SQLite and Postgres stores: each usage recorded once."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.usage.service import NewUsage, UsageService
from domain.shared.cause import SYSTEM
from domain.usage.record import UsageRecord
from tests.support.stores import InMemoryStore, PostgresStore, SQLiteStore

ORG = uuid4()


def usage(source: str, quantity: int = 10, meter: str = "inference.input_tokens") -> NewUsage:
    return NewUsage(source_kind="request", source_id=source, meter=meter, quantity=quantity,
                    org_id=ORG, project_id=None, occurred_at=1.0, model="m")


def stored(service: UsageService) -> list[UsageRecord]:
    events = [service.mapper.to_domain_event(n)
              for n in service.recorder.select_notifications(1, 100_000)]
    return [service.repository.get(event.originator_id) for event in events]


class UsageServiceContract:
    @pytest.fixture
    def service(self, env: dict[str, str]) -> Iterator[UsageService]:
        service = UsageService(env=env)
        yield service
        service.close()

    def test_a_batch_is_saved_in_one_transaction(self, service: UsageService) -> None:
        position = service.record([usage("r1"), usage("r2"), usage("r3")], cause=SYSTEM)
        assert position is not None
        assert sorted(r.source_id for r in stored(service)) == ["r1", "r2", "r3"]

    def test_a_repeat_records_nothing_and_a_mixed_batch_only_the_new(
            self, service: UsageService) -> None:
        service.record([usage("r1"), usage("r2")], cause=SYSTEM)
        assert service.record([usage("r1"), usage("r2")], cause=SYSTEM) is None
        service.record([usage("r2"), usage("r3"), usage("r3")], cause=SYSTEM)
        assert sorted(r.source_id for r in stored(service)) == ["r1", "r2", "r3"]

    def test_the_first_quantity_wins_over_a_retry_that_disagrees(
            self, service: UsageService) -> None:
        service.record([usage("r1", quantity=10)], cause=SYSTEM)
        service.record([usage("r1", quantity=99)], cause=SYSTEM)
        assert [r.quantity for r in stored(service)] == [10]


class TestInMemory(InMemoryStore, UsageServiceContract):
    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 50)), max_size=6),
                    max_size=8))
    def test_any_interleaving_of_duplicated_batches_sums_each_source_once(
            self, batches: list[list[tuple[int, int]]]) -> None:
        service = UsageService(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        first: dict[str, int] = {}  # the model: a source's first quantity ever is the one
        for batch in batches:
            for source, quantity in batch:
                first.setdefault(f"r{source}", quantity)
            service.record([usage(f"r{source}", quantity) for source, quantity in batch],
                           cause=SYSTEM)
        totals = {r.source_id: r.quantity for r in stored(service)}
        assert totals.keys() == first.keys()
        assert sum(totals.values()) == sum(first.values())


class TestSQLite(SQLiteStore, UsageServiceContract):
    """The contract on the SQLite store."""


class TestPostgres(PostgresStore, UsageServiceContract):
    """The contract on the Postgres store."""
