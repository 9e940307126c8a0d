"""Group commit: the appends of concurrent requests go to the event store in one transaction.

Every append takes the events table's exclusive lock for its whole transaction (that is how
notification ids commit in order), so under load requests queued on the lock one commit at a
time, each holding it across several round trips and a WAL flush. Here the first request to
arrive leads: it takes everything queued behind it and appends it all in one transaction, one
lock, one flush. The others wait for their result, and the first still waiting leads the
next batch, so no thread serves more than one batch beyond its own.

Each request's events stay contiguous and all-or-nothing. Two requests of a batch writing one
aggregate version cannot both succeed: the later one is refused at once (an IntegrityError, as
a lost race always is). A batch that still hits a version conflict (another process got there
first) is split in halves until the conflicting requests are alone, so exactly those fail.
Any other error fails every request of the batch, as a shared outage would have. With nothing
queued, a request appends alone, at no extra cost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain

from eventsourcing.persistence import IntegrityError, StoredEvent

Insert = Callable[[Sequence[StoredEvent]], Sequence[int] | None]
MAX_BATCH_EVENTS = 1000


@dataclass(eq=False)
class _Request:
    events: Sequence[StoredEvent]
    wake: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    done: bool = False
    ids: Sequence[int] | None = None
    error: BaseException | None = None

    def finish(self, ids: Sequence[int] | None, error: BaseException | None) -> None:
        self.ids, self.error, self.done = ids, error, True

    def outcome(self) -> Sequence[int] | None:
        if self.error is not None:
            raise self.error  # the same object in each thread, as concurrent.futures does
        return self.ids


class GroupCommit:
    def __init__(self, insert: Insert, max_batch_events: int = MAX_BATCH_EVENTS) -> None:
        self._insert, self._max_events = insert, max_batch_events
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._leading = False
        self.batches = 0  # transactions run for batches of two or more (tests, profiles)

    def submit(self, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        """Append `events` atomically (alone or in a batch); their notification ids."""
        request = _Request(events)
        with self._lock:
            self._queue.append(request)
            if not self._leading:
                self._leading = request.leads = True
        if not request.leads:
            request.wake.wait()  # until done, or promoted to lead the next batch
        if not request.done:
            self._lead()
        return request.outcome()

    def _lead(self) -> None:
        batch = self._take()
        try:
            self._commit(_refuse_second_claims(batch))
        finally:
            for request in batch:  # only when the leader itself was interrupted
                if not request.done:
                    request.finish(None, RuntimeError("the append was interrupted"))
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False
            for request in batch:
                request.wake.set()

    def _take(self) -> list[_Request]:
        """The queue's head (the leader) and whatever follows it, up to the size limit."""
        with self._lock:
            size, count = 0, 0
            for request in self._queue:
                if count and size + len(request.events) > self._max_events:
                    break
                size, count = size + len(request.events), count + 1
            batch, self._queue = self._queue[:count], self._queue[count:]
        return batch

    def _commit(self, batch: list[_Request]) -> None:
        """All of `batch` in one transaction; on a version conflict, each half apart (the
        conflicting requests end up alone and fail; the rest commit in a few transactions)."""
        if not batch:
            return
        if len(batch) == 1:
            self._alone(batch[0])
            return
        try:
            ids = self._insert(list(chain.from_iterable(r.events for r in batch)))
        except IntegrityError:
            middle = len(batch) // 2
            self._commit(batch[:middle])
            self._commit(batch[middle:])
            return
        except Exception as error:
            for request in batch:
                request.finish(None, error)
            return
        self.batches += 1
        ends = list(accumulate(len(request.events) for request in batch))
        for request, end in zip(batch, ends, strict=True):
            part = None if ids is None else ids[end - len(request.events):end]
            request.finish(part, None)

    def _alone(self, request: _Request) -> None:
        try:
            request.finish(self._insert(request.events), None)
        except Exception as error:
            request.finish(None, error)


def _refuse_second_claims(batch: list[_Request]) -> list[_Request]:
    """Refuse, without a round trip, a request writing an aggregate version that an earlier
    request of the batch writes: one of the two would fail anyway, and a batch of requests
    racing on one aggregate would otherwise fail whole and be split over and over. The
    refusal is the usual IntegrityError, which the command retries on fresh state."""
    claimed: set[tuple[object, int]] = set()
    kept: list[_Request] = []
    for request in batch:
        keys = {(event.originator_id, event.originator_version) for event in request.events}
        if keys & claimed:
            request.finish(None, IntegrityError("another append in this batch writes the "
                                                "same aggregate version"))
            continue
        claimed |= keys
        kept.append(request)
    return kept
