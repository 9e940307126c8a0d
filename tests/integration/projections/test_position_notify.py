"""A projection commit on Postgres announces its position by NOTIFY, and another process's
TrackingSignals (here: a real listener on its own connection) learns it without a query."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import Tracking

from infra.database import read_model_engine
from infra.pg_listen import DEAD_PEER_SECONDS, PgListener
from projections.signal import ChangeSignal, TrackingSignals, position_payload
from projections.tracking import TRACKING_CHANNEL, SqlTrackingRecorder
from projections.view import SqlView

pytestmark = pytest.mark.postgres


def test_a_commit_announces_its_tracker_log_and_position(
        postgres_url: str, pg_schemas: dict[str, str], tmp_path: Path) -> None:
    engine = read_model_engine(postgres_url, tmp_path / "unused.sqlite3",
                               pg_schemas["read_model_schema"])
    tracker_name = f"probe{uuid.uuid4().hex[:8]}@3"
    heard = TrackingSignals()
    watcher = heard.watch(tracker_name.split("@", maxsplit=1)[0])
    listener = PgListener(postgres_url, {TRACKING_CHANNEL: heard.notify})
    listener.start()
    try:
        committing = SqlTrackingRecorder(engine, tracker_name, ChangeSignal())  # not `heard`
        deadline = time.monotonic() + 10
        while heard.generation() == 0:  # the listener's first wake-up comes once it listens
            assert time.monotonic() < deadline, "the listener never started listening"
            heard.wait_after(0, 0.1)
        seen = watcher.generation()
        committing.insert_tracking(Tracking("Upstream", 41))
        committing.insert_tracking(Tracking("Upstream", 42))
        while heard.pushed("Upstream", [tracker_name]) != {tracker_name: 42}:
            assert time.monotonic() < deadline, heard.pushed("Upstream", [tracker_name])
            heard.wait_after(heard.generation(), 0.1)
        assert watcher.generation() > seen
    finally:
        listener.stop()
        engine.dispose()


def test_the_listener_probes_its_connection_and_gives_up_on_a_silent_server(
        postgres_url: str) -> None:
    """A connection that died without a word would leave caches trusting what they last
    heard: the kernel probes it and gives up within DEAD_PEER_SECONDS (TCP keepalives and a
    user timeout on the listener's socket)."""
    listener = PgListener(postgres_url, {TRACKING_CHANNEL: lambda _payload: None})
    listener.start()
    try:
        deadline = time.monotonic() + 10
        while listener.connection is None:
            assert time.monotonic() < deadline, "the listener never connected"
            time.sleep(0.05)
        with socket.socket(fileno=os.dup(listener.connection.pgconn.socket)) as sock:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
            probes = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
            interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
            assert idle + probes * interval <= DEAD_PEER_SECONDS
            user_timeout_ms = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
            assert 0 < user_timeout_ms <= DEAD_PEER_SECONDS * 1000
    finally:
        listener.stop()


def test_another_process_hears_a_topic_before_the_position_of_its_commit(
        postgres_url: str, pg_schemas: dict[str, str], tmp_path: Path) -> None:
    """The organization-state cache of an API process watches a topic the worker's tenancy
    projection announces: it must move on before read-your-writes waiters wake."""
    engine = read_model_engine(postgres_url, tmp_path / "unused.sqlite3",
                               pg_schemas["read_model_schema"])
    tracker_name, topic = f"probe{uuid.uuid4().hex[:8]}@1", f"topic-{uuid.uuid4().hex[:8]}"
    heard: list[str] = []
    signals = TrackingSignals()
    watcher = signals.watch(topic)

    def hear(payload: str | None = None) -> None:
        if payload is not None:
            heard.append(payload)
        signals.notify(payload)

    listener = PgListener(postgres_url, {TRACKING_CHANNEL: hear})
    listener.start()
    try:
        deadline = time.monotonic() + 10
        while signals.generation() == 0:  # the listener's first wake-up comes once it listens
            assert time.monotonic() < deadline, "the listener never started listening"
            signals.wait_after(0, 0.1)
        view, seen = SqlView(engine, tracker_name, ChangeSignal()), watcher.generation()
        view.record(Tracking("Upstream", 6))
        view.record(Tracking("Upstream", 7), topic=topic)
        expected = [position_payload(tracker_name, "Upstream", 6), topic,
                    position_payload(tracker_name, "Upstream", 7)]
        while len(heard) < len(expected):
            assert time.monotonic() < deadline, heard
            signals.wait_after(signals.generation(), 0.1)
        assert heard == expected
        assert watcher.generation() == seen + 1  # by the topic's commit alone
    finally:
        listener.stop()
        engine.dispose()
