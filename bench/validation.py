"""Pair 6: the domain's dataset validator (domain/datasets/validation) in MB/s, against reading
the same JSONL file and parsing each line with json.loads."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

from bench.context import BenchContext
from bench.report import Row, Section, Target
from bench.stats import median
from domain.datasets.validation import CHAT, validate_lines
from infra.dataset_rows import decode_plain_chat
from infra.tokenizers import token_counter_for

TITLE = "6. Dataset validation"
CONTEXT_LENGTH = 4096
METHOD = """
A chat fine-tuning file of {mb:g} MB is generated (system, user and assistant messages of
varied length, all valid). Bitstride's figure is `validate_lines` over the open binary file,
as the dataset validator calls it (declared format `chat`, a {context:,}-token context, the
byte estimate for token counts, the msgspec decoder of plain chat rows for the fast path).
The baseline reads the same file line by line and `json.loads` each line. MB are 10^6 bytes
of the file; rounds alternate; the file stays in the page cache.
"""
WORDS = ("model", "token", "gradient", "dataset", "learning", "rate", "batch", "epoch", "loss",
         "the", "a", "of", "to", "and", "is", "in", "that", "for", "with", "on", "über", "日本")


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def write_dataset(path: Path, megabytes: float, seed: int = 8) -> int:
    """A valid chat JSONL file of about `megabytes`; its example count."""
    rng, size, examples = random.Random(seed), 0, 0  # noqa: S311 (test data)
    with path.open("w", encoding="utf-8") as out:
        while size < megabytes * 1e6:
            row = {"messages": [
                {"role": "system", "content": _sentence(rng, rng.randint(3, 12))},
                {"role": "user", "content": _sentence(rng, rng.randint(5, 60))},
                {"role": "assistant", "content": _sentence(rng, rng.randint(10, 120))}]}
            line = json.dumps(row, ensure_ascii=False) + "\n"
            out.write(line)
            size += len(line.encode())
            examples += 1
    return examples


def validate(path: Path) -> int:
    with path.open("rb") as lines:
        report = validate_lines(lines, declared_format=CHAT, context_length=CONTEXT_LENGTH,
                                count_tokens=token_counter_for(None).count,
                                token_estimate=True, plain_chat=decode_plain_chat)
    if not report.valid:
        raise RuntimeError(f"the generated dataset is invalid: {report.errors[:3]}")
    return report.examples


def parse(path: Path) -> int:
    count = 0
    with path.open("rb") as lines:
        for line in lines:
            json.loads(line)
            count += 1
    return count


def _rate(action: Callable[[Path], int], path: Path, expected: int) -> float:
    started = time.perf_counter()
    if action(path) != expected:
        raise RuntimeError(f"{action.__name__} did not see all {expected} examples")
    return path.stat().st_size / 1e6 / (time.perf_counter() - started)


def run(context: BenchContext) -> Section:
    config = context.config
    path = context.workdir / "dataset.jsonl"
    examples = write_dataset(path, config.dataset_mb)
    ours, baseline = [], []
    for _ in range(config.rounds):
        baseline.append(_rate(parse, path, examples))
        ours.append(_rate(validate, path, examples))
    row = Row(TITLE, f"validate {path.stat().st_size / 1e6:.1f} MB ({examples:,} examples)",
              "MB/s", median(ours), median(baseline), "read + json.loads",
              Target("ratio_at_least", 0.5), ours, baseline)
    path.unlink()
    return Section(TITLE, METHOD.format(mb=config.dataset_mb, context=CONTEXT_LENGTH), [row])
