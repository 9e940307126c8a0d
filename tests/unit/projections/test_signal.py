"""ChangeSignal: waiters wake on the next notify, never miss one, and time out otherwise."""

from __future__ import annotations

import threading

from projections.signal import ChangeSignal, LogSignals, TrackingSignals

BOUND_SECONDS = 5.0


def test_a_notify_after_the_seen_generation_wakes_the_waiter() -> None:
    signal = ChangeSignal()
    seen = signal.generation()
    woke: list[bool] = []
    waiting = threading.Thread(target=lambda: woke.append(signal.wait_after(seen, BOUND_SECONDS)))
    waiting.start()
    signal.notify("Tenancy", 7)  # listeners are called with (application, position)
    waiting.join(BOUND_SECONDS)
    assert woke == [True]
    assert signal.generation() == seen + 1


def test_a_notify_before_waiting_is_not_missed() -> None:
    signal = ChangeSignal()
    seen = signal.generation()
    signal.notify()
    assert signal.wait_after(seen, timeout=0) is True


def test_without_a_notify_the_wait_times_out() -> None:
    signal = ChangeSignal()
    assert signal.wait_after(signal.generation(), timeout=0.01) is False


def test_one_notify_wakes_every_waiter() -> None:
    signal = ChangeSignal()
    seen = signal.generation()
    results: list[bool] = []
    lock = threading.Lock()

    def wait() -> None:
        woke = signal.wait_after(seen, BOUND_SECONDS)
        with lock:
            results.append(woke)

    waiters = [threading.Thread(target=wait) for _ in range(5)]
    for waiter in waiters:
        waiter.start()
    signal.notify()
    for waiter in waiters:
        waiter.join(BOUND_SECONDS)
    assert results == [True] * 5


def test_a_projection_watch_moves_only_for_its_projections_commits() -> None:
    signals = TrackingSignals()
    routes = signals.watch("deployments", "models")
    seen, everyone = routes.generation(), signals.generation()

    signals.notify("tenancy@1")
    signals.notify("audit-Tenancy@3")
    assert routes.generation() == seen
    assert signals.generation() == everyone + 2  # plain waiters still wake on every commit

    signals.notify("deployments@2")
    signals.notify("models@1")
    assert routes.generation() == seen + 2


def test_a_commit_of_unknown_origin_wakes_every_watch() -> None:
    signals = TrackingSignals()
    routes = signals.watch("deployments")
    seen = routes.generation()
    signals.notify()  # a NOTIFY heard at (re)connection, or a drain: no tracker named
    signals.notify(None)
    assert routes.generation() == seen + 2


def test_a_waiter_woken_by_a_commit_finds_its_projections_watchers_already_moved() -> None:
    """A read-your-writes waiter answers its client as soon as it wakes; the client's next
    request must not find a cache keyed on the watch signal still at the old generation.
    Checked at the moment the waiters are woken, not by racing a thread."""
    signals = TrackingSignals()
    tenancy = signals.watch("tenancy")
    before = tenancy.generation()
    at_wake: list[int] = []
    wake_all = signals._condition.notify_all

    def recording_wake_all() -> None:
        at_wake.append(tenancy.generation())
        wake_all()

    signals._condition.notify_all = recording_wake_all  # type: ignore[method-assign]
    signals.notify("tenancy@1\tTenancy\t7")
    assert at_wake == [before + 1]


def test_log_signals_are_complete_once_every_process_is_heard() -> None:
    """Before a listener hears other processes' appends a runner must look on its own; after,
    every log's signal says it is complete, the ones made later too."""
    signals = LogSignals()
    signals.share("events", ["Tenancy", "Usage"])
    tenancy = signals.of("Tenancy")
    assert not tenancy.complete
    signals.hear_every_process()
    assert tenancy.complete and signals.of("Usage").complete and signals.of("Billing").complete
