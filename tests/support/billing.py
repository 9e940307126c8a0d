"""Billing test helpers: a price book file, usage at given UTC times, a plane that never
closes on its own (the tests close periods themselves)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from application.usage.service import NewUsage
from domain.shared.cause import SYSTEM
from infra.settings import Settings
from interfaces.control_plane import ControlPlane
from projections.usage.projection import PROJECTION_NAME as USAGE

# The prices every hand-computed test uses (USD per `unit` units).
PRICES = [
    {"meter": "fine_tuning.trained_tokens", "model": "*", "unit_price": "3.00", "unit": 1000000},
    {"meter": "fine_tuning.trained_tokens", "model": "smollm2-135m-instruct",
     "unit_price": "0.40", "unit": 1000000},
    {"meter": "rl.trained_tokens", "model": "*", "unit_price": "6", "unit": 1000000},
    {"meter": "rl.grader_calls", "model": "*", "unit_price": "0.50", "unit": 1000},
    {"meter": "inference.input_tokens", "model": "*", "unit_price": "0.20", "unit": 1000000},
    {"meter": "inference.input_tokens", "model": "llama-3.2-1b-instruct",
     "unit_price": "0.06", "unit": 1000000},
    {"meter": "inference.input_tokens", "model": "reference-byte-lm", "unit_price": "0.01",
     "unit": 1000000},
    {"meter": "inference.output_tokens", "model": "*", "unit_price": "0.80", "unit": 1000000},
    {"meter": "inference.output_tokens", "model": "llama-3.2-1b-instruct",
     "unit_price": "0.24", "unit": 1000000},
    {"meter": "deployment.replica_seconds", "model": "*", "unit_price": "1.44", "unit": 3600},
]
NEVER = 10**10  # a close grace no test outlives: the worker closes nothing by itself


def price_book_file(directory: Path, prices: list[dict[str, object]] | None = None) -> Path:
    path = directory / "prices.json"
    path.write_text(json.dumps({"currency": "usd", "prices": prices or PRICES}))
    return path


def billing_settings(settings: Settings, directory: Path) -> Settings:
    return settings.with_overrides(price_book_file=price_book_file(directory),
                                   billing_close_grace_seconds=NEVER)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *,
       second: float = 0) -> float:
    whole = datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()
    return whole + second


def usage(org: UUID, source: str, meter: str, quantity: int, when: float, *,
          model: str | None = None) -> NewUsage:
    return NewUsage(source_kind="request", source_id=source, meter=meter, quantity=quantity,
                    org_id=org, project_id=None, occurred_at=when, model=model,
                    api_key_id="key_1")


def project(plane: ControlPlane, *names: str) -> None:
    """Catch these read models up to their logs' heads here, as the worker would."""
    for name in names:
        plane.read_models.runner(name, plane.generations.active(name, fresh=True)).catch_up()


def record(plane: ControlPlane, *items: NewUsage) -> None:
    """Record, and project the records: wait for the usage runner when one runs, else catch
    the projection up here."""
    position = plane.usage.record(list(items), cause=SYSTEM)
    if plane.read_models.supervisors[USAGE].live is not None:
        plane.await_projections(plane.usage.name, position)
    else:
        project(plane, USAGE)
