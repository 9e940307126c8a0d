"""BufferedUsageMeter on the in-memory, SQLite and Postgres stores: each request once, batched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from structlog.testing import capture_logs

from application.gateway.ports import InferenceUsage
from application.usage.service import NewUsage, UsageService
from domain.shared.cause import SYSTEM, Cause
from domain.usage.record import UsageRecord
from infra.gateway.metering import BufferedUsageMeter
from tests.support.stores import POPO, InMemoryStore, PostgresStore, SQLiteStore

ORG, OTHER_ORG, PROJECT = uuid4(), uuid4(), uuid4()


def request(n: int, *, org: UUID = ORG, input_tokens: int | None = None,
            output_tokens: int | None = None, status: int = 200,
            streamed: bool = False) -> InferenceUsage:
    return InferenceUsage(
        request_id=f"req_{n:08d}", org_id=org, project_id=PROJECT, api_key_id=f"key_{n % 3}",
        model="model_m", deployment_id="dep_d",
        input_tokens=n % 97 if input_tokens is None else input_tokens,
        output_tokens=n % 31 if output_tokens is None else output_tokens,
        latency_ms=12.5 + n, status=status, streamed=streamed, occurred_at=1_800_000_000.0 + n)


def stored(service: UsageService) -> list[UsageRecord]:
    """Every record in the log, each rebuilt from its one (creation) event."""
    records = []
    for notification in service.recorder.select_notifications(1, 1_000_000):
        record = service.mapper.to_domain_event(notification).mutate(None)
        assert isinstance(record, UsageRecord)
        records.append(record)
    return records


def by_request(records: list[UsageRecord]) -> dict[tuple[str, str], UsageRecord]:
    keyed = {(r.source_id, r.meter.value): r for r in records}
    assert len(keyed) == len(records), "a request and meter recorded twice"
    return keyed


class SpyUsage:
    """The real service, counting its calls; the first `failures` calls raise (before writing,
    or, with `commit_then_fail`, after the write committed: an answer lost on the way)."""

    def __init__(self, real: UsageService, *, failures: int = 0,
                 commit_then_fail: bool = False) -> None:
        self.real, self.failures, self.commit_then_fail = real, failures, commit_then_fail
        self.calls: list[int] = []  # batch sizes, successful or not
        self.lock = threading.Lock()

    def record(self, usage: Sequence[NewUsage], *, cause: Cause) -> int | None:
        with self.lock:
            self.calls.append(len(usage))
            fail = self.failures > 0
            self.failures -= fail
        if fail and not self.commit_then_fail:
            raise ConnectionError("database unreachable")
        position = self.real.record(usage, cause=cause)
        if fail:
            raise ConnectionError("connection lost after commit")
        return position


class BlockedUsage:
    """Holds every write until released: the buffer keeps filling meanwhile."""

    def __init__(self, real: UsageService) -> None:
        self.real, self.release = real, threading.Event()

    def record(self, usage: Sequence[NewUsage], *, cause: Cause) -> int | None:
        assert self.release.wait(10)
        return self.real.record(usage, cause=cause)


class MeterContract:
    @pytest.fixture
    def service(self, env: dict[str, str]) -> Iterator[UsageService]:
        service = UsageService(env=env)
        yield service
        service.close()

    def test_concurrent_records_are_each_stored_once_in_few_transactions(
            self, service: UsageService) -> None:
        spy = SpyUsage(service)
        meter = BufferedUsageMeter(spy, flush_seconds=5.0, batch_size=200)
        threads, per_thread = 8, 60  # 480 requests, each recorded by two threads
        barrier = threading.Barrier(threads)

        def gateway_worker(worker: int) -> None:
            barrier.wait()
            for i in range(per_thread):
                n = worker * per_thread + i
                meter.record(request(n))
                meter.record(request((n + per_thread) % (threads * per_thread)))  # a duplicate

        workers = [threading.Thread(target=gateway_worker, args=(w,)) for w in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        meter.close()

        records = by_request(stored(service))
        total = threads * per_thread
        assert len(records) == 2 * total
        for n in range(total):
            expected = request(n)
            inp = records[(expected.request_id, "inference.input_tokens")]
            out = records[(expected.request_id, "inference.output_tokens")]
            assert (inp.quantity, out.quantity) == (expected.input_tokens, expected.output_tokens)
            assert inp.org_id == ORG and inp.project_id == PROJECT
            assert inp.api_key_id == expected.api_key_id and inp.model == "model_m"
            assert inp.deployment_id == "dep_d" and inp.occurred_at == expected.occurred_at
            assert inp.attributes == out.attributes == {
                "latency_ms": expected.latency_ms, "status": 200, "streamed": False}
            assert inp.last_cause.request_id == expected.request_id
        # 1 920 records offered (2 per request, each request twice): batches of <= 200.
        assert sum(spy.calls) == 4 * total and max(spy.calls) <= 200
        assert len(spy.calls) <= 4 * total // 200 + 2
        assert meter.metrics.flushed._value.get() == 4 * total

    def test_a_failing_flush_is_retried_and_loses_nothing(self, service: UsageService) -> None:
        spy = SpyUsage(service, failures=3)
        meter = BufferedUsageMeter(spy, flush_seconds=0.05, batch_size=50,
                                   backoff_first_seconds=0.01)
        with capture_logs() as logs:
            for n in range(120):
                meter.record(request(n))
            meter.close()
        assert len(by_request(stored(service))) == 240
        failed = [line for line in logs if line["event"] == "usage_flush_failed"]
        assert len(failed) == 3 == meter.metrics.flush_failures._value.get()
        assert {line["error_class"] for line in failed} == {"ConnectionError"}
        assert all(set(line) == {"event", "log_level", "count", "error_class", "backlog"}
                   for line in failed)  # counts and classes, never the records themselves

    def test_a_batch_whose_answer_was_lost_after_commit_is_not_stored_twice(
            self, service: UsageService) -> None:
        spy = SpyUsage(service, failures=1, commit_then_fail=True)
        meter = BufferedUsageMeter(spy, flush_seconds=0.05, batch_size=1000,
                                   backoff_first_seconds=0.01)
        for n in range(30):
            meter.record(request(n))
        meter.close()
        assert len(spy.calls) >= 2  # the retry happened
        assert len(by_request(stored(service))) == 60

    def test_close_writes_what_is_still_buffered(self, service: UsageService) -> None:
        spy = SpyUsage(service)
        meter = BufferedUsageMeter(spy, flush_seconds=60.0, batch_size=10_000)
        for n in range(7):
            meter.record(request(n, status=499, streamed=True))
        assert meter.buffered == 14 and spy.calls == []
        meter.close()
        assert spy.calls == [14] and meter.buffered == 0
        assert {r.attributes["status"] for r in stored(service)} == {499}
        meter.record(request(99))  # after close: dropped and counted, never raised
        assert meter.metrics.dropped.labels("closed")._value.get() == 2

    def test_the_same_request_recorded_again_later_is_stored_once(
            self, service: UsageService) -> None:
        for tokens in (5, 50):  # two meters, one after the other: a replayed request id
            meter = BufferedUsageMeter(service, flush_seconds=0.05)
            meter.record(request(1, input_tokens=tokens))
            meter.record(request(1, input_tokens=tokens + 1))
            meter.close()
        records = by_request(stored(service))
        assert len(records) == 2
        assert records[("req_00000001", "inference.input_tokens")].quantity == 5


class TestInMemory(InMemoryStore, MeterContract):
    def test_past_the_bound_records_are_dropped_counted_and_logged(self) -> None:
        service = UsageService(env=POPO)
        blocked = BlockedUsage(service)
        meter = BufferedUsageMeter(blocked, flush_seconds=0.01, batch_size=4, buffer_max=10)
        with capture_logs() as logs:
            for n in range(8):  # 16 records for 10 places: requests 0-4 fit, 5-7 do not
                meter.record(request(n))
            assert meter.buffered == 10 and not meter.accepting
            blocked.release.set()
            meter.close()
        assert sorted({r.source_id for r in stored(service)}) == [
            request(n).request_id for n in range(5)]
        assert meter.metrics.dropped.labels("buffer_full")._value.get() == 6
        dropped = [line for line in logs if line["event"] == "usage_records_dropped"]
        assert sum(line["count"] for line in dropped) == 6
        assert all(line["log_level"] == "error" for line in dropped)

    def test_a_record_the_domain_refuses_is_dropped_and_counted_not_raised(self) -> None:
        service = UsageService(env=POPO)
        meter = BufferedUsageMeter(service, flush_seconds=0.05)
        meter.record(request(1, input_tokens=-1))
        meter.record(request(2))
        meter.close()
        assert {r.source_id for r in stored(service)} == {"req_00000002"}
        assert meter.metrics.dropped.labels("invalid")._value.get() == 2

    def test_close_gives_up_after_its_timeout_when_the_database_stays_down(self) -> None:
        service = UsageService(env=POPO)
        down = SpyUsage(service, failures=10**9)
        meter = BufferedUsageMeter(down, flush_seconds=0.05, close_timeout_seconds=0.3,
                                   backoff_first_seconds=0.01)
        meter.record(request(1))
        started = time.monotonic()
        with capture_logs() as logs:
            meter.close()
        assert time.monotonic() - started < 2
        assert meter.metrics.dropped.labels("shutdown")._value.get() == 2
        assert any(line["event"] == "usage_meter_closed_with_unwritten_records"
                   and line["count"] == 2 for line in logs)

    def test_usage_records_stored_before_attributes_existed_still_load(self) -> None:
        service = UsageService(env=POPO)
        record = UsageRecord.record(
            source_kind="request", source_id="req_old", meter="inference.input_tokens",
            quantity=3, org_id=ORG, project_id=None, occurred_at=1.0, cause=SYSTEM)
        (event,) = record.collect_events()
        stored_event = service.mapper.to_stored_event(event)
        state = service.mapper.transcoder.decode(stored_event.state)
        del state["attributes"]  # the Created event as it was stored before the field
        service.recorder.insert_events([StoredEvent(
            originator_id=stored_event.originator_id, originator_version=1,
            topic=stored_event.topic, state=service.mapper.transcoder.encode(state))])
        loaded = service.repository.get(record.id)
        assert (loaded.quantity, loaded.attributes) == (3, {})

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 1000), st.integers(0, 1000)),
                    max_size=60),
           st.integers(1, 7))
    def test_any_interleaving_and_duplication_sums_each_request_once(
            self, calls: list[tuple[int, int, int]], batch_size: int) -> None:
        service = UsageService(env=POPO)
        meter = BufferedUsageMeter(service, flush_seconds=0.01, batch_size=batch_size)
        first: dict[int, tuple[int, int]] = {}  # the model: a request's first report counts
        for n, input_tokens, output_tokens in calls:
            first.setdefault(n, (input_tokens, output_tokens))
            meter.record(request(n, org=ORG if n % 2 else OTHER_ORG,
                                 input_tokens=input_tokens, output_tokens=output_tokens))
        meter.close()
        totals: dict[tuple[UUID, str], int] = {}
        for r in stored(service):
            totals[(r.org_id, r.meter.value)] = totals.get((r.org_id, r.meter.value), 0) \
                + r.quantity
        expected: dict[tuple[UUID, str], int] = {}
        for n, (input_tokens, output_tokens) in first.items():
            org = ORG if n % 2 else OTHER_ORG
            for meter_name, quantity in (("inference.input_tokens", input_tokens),
                                         ("inference.output_tokens", output_tokens)):
                expected[(org, meter_name)] = expected.get((org, meter_name), 0) + quantity
        assert totals == expected
        assert len(stored(service)) == 2 * len(first)


class TestSQLite(SQLiteStore, MeterContract):
    """The contract on the SQLite store."""


class TestPostgres(PostgresStore, MeterContract):
    def test_each_batch_is_one_transaction_in_the_log(
            self, service: UsageService, postgres_url: str, pg_schemas: dict[str, str]) -> None:
        meter = BufferedUsageMeter(service, flush_seconds=60.0, batch_size=100)
        for n in range(250):  # 500 records: 5 full batches of 100
            meter.record(request(n))
        meter.close()
        with psycopg.connect(postgres_url) as conn:  # xmin: the transaction that wrote a row
            rows = conn.execute(sql.SQL("SELECT xmin::text, count(*) FROM {}.usage_events "
                                        "GROUP BY 1").format(
                sql.Identifier(pg_schemas["database_schema"]))).fetchall()
        assert sorted(count for _, count in rows) == [100] * 5
