"""The billing closer: a process manager of the worker that closes ended periods.

Every `check_seconds` (its `tick` is called about once a second; the clock is injectable) it
closes, for every period that ended more than `grace_seconds` ago, each organization with
usage in it that has no invoice yet. The grace lets late usage of the period's last moments
(buffered gateway usage, a job finishing at midnight) arrive before the books close.

The first check walks every period from the earliest usage on (a worker that was down for
months catches up); later checks look again at the latest closable period only, for an
organization whose first usage of it arrived after the others were closed. Which invoices
exist is found once by scanning the Billing log, then kept up to date from the events this
manager follows, so a check costs two reads when nothing is due. Closing is idempotent
(one invoice per organization and period), so two closers, or a CLI close beside the worker,
never make two invoices.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Tracking, TrackingRecorder

from application.billing.finalized import FINALIZED_TOPIC
from application.billing.service import BillingService
from application.shared.scan import created_ids
from domain.billing.invoice import Invoice, invoice_id
from domain.billing.period import Period
from domain.shared.cause import Cause

log = structlog.get_logger("bitstride.billing.closer")
CLOSER = Cause(actor_id="billing-closer", actor_kind="system")
CHECK_SECONDS = 60.0
FINALIZED: Any = vars(Invoice)["Finalized"]  # made by `@event`, unseen by the type checker


class BillingCloser:
    def __init__(self, billing: BillingService, recorder: TrackingRecorder, *,
                 grace_seconds: float, check_seconds: float = CHECK_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.billing, self.recorder, self.clock = billing, recorder, clock
        self.grace_seconds, self.check_seconds = grace_seconds, check_seconds
        self._closed: set[UUID] | None = None  # ids of the invoices that exist
        self._resume: Period | None = None  # the first period the next check looks at
        self._checked_at: float | None = None

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        if isinstance(domain_event, FINALIZED):
            self.closed().add(domain_event.originator_id)
        self.recorder.insert_tracking(tracking)

    def tick(self) -> None:
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.check_seconds:
            return
        self._checked_at = now
        try:
            self.check(now)
        except TimeoutError as error:  # the usage projection lags: try again next check
            log.warning("billing_close_deferred", reason=str(error))

    def check(self, now: float) -> int:
        """Close what is due at `now`; returns how many invoices were made."""
        latest = Period.of(now - self.grace_seconds).previous()
        first = self._resume or self._first_period()
        if first is None:
            return 0
        made, period = 0, first
        while period <= latest:
            made += self.close_period(period, now)
            period = period.next()
        self._resume = max(first, latest)  # the latest closable one, looked at again
        return made

    def close_period(self, period: Period, now: float) -> int:
        usage = self.billing.usage
        assert usage is not None, "BillingService.usage is not wired"
        due = [org for org in usage.organizations(period.start, period.end)
               if invoice_id(UUID(hex=org), period) not in self.closed()]
        if not due:
            return 0
        closing = self.billing.prepare_close(period, now=now)  # waits for usage to catch up
        made = 0
        for org in closing.org_ids:
            outcome = self.billing.close_invoice(UUID(hex=org), closing, cause=CLOSER)
            self.closed().add(outcome.aggregate.id)
            made += int(not outcome.replayed)
        log.info("billing_period_closed", period=period.name, invoices=made,
                 usage_position=closing.usage_position)
        return made

    def closed(self) -> set[UUID]:
        if self._closed is None:
            self._closed = created_ids(self.billing, FINALIZED_TOPIC)
        return self._closed

    def _first_period(self) -> Period | None:
        usage = self.billing.usage
        assert usage is not None, "BillingService.usage is not wired"
        first = usage.first_usage_at()
        return None if first is None else Period.of(first)
