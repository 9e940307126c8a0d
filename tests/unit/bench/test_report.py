"""BENCHMARKS.md: targets judged, ratios and added costs shown, tool output parsed."""

from __future__ import annotations

import pytest

from bench.pgbench import parse_tps
from bench.report import Row, Run, Section, Target, number, render
from bench.wrk import parse


def test_targets_judge_ratios_bounds_and_added_costs() -> None:
    assert Target("ratio_at_least", 0.5).met(60.0, 100.0) is True
    assert Target("ratio_at_least", 0.5).met(40.0, 100.0) is False
    assert Target("ratio_at_least", 0.5).met(40.0, None) is None
    assert Target("at_most", 10.0).met(10.0, None) is True
    assert Target("at_least", 10_000).met(9_999.0, None) is False
    assert Target("added_at_most", 1.0).met(5.5, 4.0) is False
    assert Target("added_at_most", 1.0).met(4.9, 4.0) is True


def test_a_row_shows_its_ratio_or_what_it_adds_and_its_verdict() -> None:
    write = Row("1. Write path", "POST", "req/s", 300.0, 1200.0, "pgbench",
                Target("ratio_at_least", 0.5))
    assert (write.comparison, write.verdict) == ("0.25x", "FAIL")
    latency = Row("4. Gateway", "p50", "ms", 4.5, 4.0, target=Target("added_at_most", 1.0),
                  compare="added")
    assert (latency.comparison, latency.verdict) == ("+0.50 ms", "pass")
    info = Row("3. Projections", "lag p50", "ms", 2.0)
    assert (info.comparison, info.verdict) == ("—", "—")


def test_numbers_keep_about_three_significant_figures() -> None:
    assert [number(v) for v in (12345.6, 42.42, 1.234, 0.01234)] == \
        ["12,346", "42.4", "1.23", "0.012"]


def test_render_has_the_machine_the_command_the_table_and_the_rounds() -> None:
    row = Row("6. Dataset validation", "validate", "MB/s", 10.0, 100.0, "json",
              Target("ratio_at_least", 0.5), rounds=[9.0, 10.0, 11.0],
              baseline_rounds=[99.0, 100.0, 101.0])
    text = render(Run("2026-01-01 00:00 UTC", "make bench", [("Cores", "2")],
                      [("BENCH_SECONDS", "5")], note="first run, machine shared"),
                  [Section("6. Dataset validation", "How.", [row])])
    assert "**first run, machine shared**" in text
    assert "- Cores: 2" in text and "`make bench`" in text
    assert ("| 6. Dataset validation | validate | 10.0 MB/s | 100 MB/s (json) | 0.10x | "
            "≥ 0.50x baseline | FAIL |") in text
    assert "Bitstride 9.00, 10.0, 11.0; baseline 99.0, 100, 101 (MB/s)" in text


def test_wrk_and_pgbench_output_are_parsed() -> None:
    output = ('Running 5s test\nBENCH_JSON {"requests": 1000, "duration_us": 5000000, '
              '"non_2xx": 3, "connect": 0, "read": 1, "write": 0, "timeout": 0, '
              '"p50_us": 2500, "p99_us": 9000, "failed_statuses": "409,503,409,"}\n')
    result = parse(output)
    assert (result.errors, result.rate, result.p50_ms) == (4, 199.2, 2.5)
    assert result.failed_statuses == {409: 2, 503: 1}
    with pytest.raises(ValueError, match="BENCH_JSON"):
        parse("Running 5s test\n")
    assert parse_tps("latency average = 3.1 ms\ntps = 1234.567890 (without initial "
                     "connection time)\n") == pytest.approx(1234.56789)
